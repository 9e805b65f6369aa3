"""Router answers as the contract's JSON (money as decimal strings)."""

from __future__ import annotations

import json

from lcr.model import Gateway
from lcr.routing.answer import Route, RouteAnswer


def money(micro: int | None) -> str | None:
    """Micro-units as the shortest exact decimal string: ``8900`` -> ``'0.0089'``, ``0`` -> ``'0'``."""
    if micro is None:
        return None
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), 1_000_000)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def answer_json(a: RouteAnswer) -> dict[str, object]:
    doc: dict[str, object] = {
        "number": a.number,
        "prefix": a.prefix,
        "destination": a.destination,
        "sell_rate": money(a.sell_rate),
        "routes": [
            {
                "carrier": r.carrier,
                "gateway": f"{r.gateway.host}:{r.gateway.port}",
                "prefix": r.prefix,
                "rate": money(r.rate),
                "margin": money(a.margin(r)),
                "tech_prefix": r.tech_prefix,
            }
            for r in a.routes
        ],
    }
    if a.explanation is not None:
        doc["explain"] = [
            {"carrier": e.carrier, "prefix": e.prefix, "rate": money(e.rate), "verdict": e.verdict,
             "detail": e.detail}
            for e in a.explanation
        ]
    return doc


class AnswerEncoder:
    """``answer_json`` + ``json.dumps(separators=(",", ":"))`` for the hot path, byte for byte the same.

    Building a dict per route and serialising it costs ~5 us a route (a 24-route answer: ~150 us);
    here each route is one f-string over cached pieces: per carrier, the JSON around the route's
    prefix, rate and margin (its name, gateway and tech prefix: the same in every route of the
    carrier, checked on each use); per money value (rates, margins), its JSON string; per
    destination, its JSON.
    The caches are bounded: full, they start afresh. Prefixes and numbers (ASCII digits after
    normalisation) need no escaping and are written as they are.
    """

    __slots__ = ("_carriers", "_money", "_strings", "limit")

    def __init__(self, limit: int = 65_536) -> None:
        self.limit = limit
        # carrier -> (gateway, tech prefix, JSON before the prefix, JSON after the margin)
        self._carriers: dict[str, tuple[Gateway, str, str, str]] = {}
        self._money: dict[int, str] = {}
        self._strings: dict[str, str] = {}

    def _carrier(self, r: Route) -> tuple[Gateway, str, str, str]:
        if len(self._carriers) >= self.limit:
            self._carriers.clear()
        g = r.gateway
        head = f'{{"carrier":{json.dumps(r.carrier)},"gateway":{json.dumps(f"{g.host}:{g.port}")},"prefix":"'
        entry = self._carriers[r.carrier] = (g, r.tech_prefix, head, f',"tech_prefix":{json.dumps(r.tech_prefix)}}}')
        return entry

    def _amount(self, micro: int) -> str:
        if len(self._money) >= self.limit:
            self._money.clear()
        js = self._money[micro] = f'"{money(micro)}"'
        return js

    def _string(self, s: str) -> str:
        if len(self._strings) >= self.limit:
            self._strings.clear()
        js = self._strings[s] = json.dumps(s)
        return js

    def encode(self, a: RouteAnswer) -> bytes:
        if a.explanation is not None:
            return json.dumps(answer_json(a), separators=(",", ":")).encode()
        carriers = self._carriers.get
        amounts = self._money.get
        sell_rate = a.sell_rate
        parts = []
        for r in a.routes:
            c = carriers(r.carrier)
            if c is None or (c[0] is not r.gateway and c[0] != r.gateway) or c[1] != r.tech_prefix:
                c = self._carrier(r)
            prefix = r.prefix
            if not (prefix.isdigit() and prefix.isascii()):
                prefix = json.dumps(prefix)[1:-1]
            m = None if sell_rate is None else sell_rate - r.rate
            parts.append(f'{c[2]}{prefix}","rate":{amounts(r.rate) or self._amount(r.rate)},"margin":'
                         f'{"null" if m is None else amounts(m) or self._amount(m)}{c[3]}')
        n, p, d, s = a.number, a.prefix, a.destination, a.sell_rate
        number = n if n.isdigit() and n.isascii() else json.dumps(n)[1:-1]
        prefix = "null" if p is None else f'"{p}"' if p.isdigit() and p.isascii() else json.dumps(p)
        destination = "null" if d is None else self._strings.get(d) or self._string(d)
        sell = "null" if s is None else amounts(s) or self._amount(s)
        return (f'{{"number":"{number}","prefix":{prefix},"destination":{destination},"sell_rate":{sell},'
                f'"routes":[{",".join(parts)}]}}').encode()
