"""Router answers as the contract's JSON (money as decimal strings)."""

from __future__ import annotations

from lcr.routing.answer import RouteAnswer


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
                "margin": money(r.margin),
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
