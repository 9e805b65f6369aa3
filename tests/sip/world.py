"""A small honest routing world for the SIP tests: an in-test ``RouteSnapshot``.

It implements the routing rules of the contract the SIP server relies on (customer tech
prefix then ``+``/``00``/``011`` stripped, at most 32 digits, longest prefix of the customer's
deck, blocked 403, credit 402, carriers by longest prefix, rate ascending then name, margin
filter) over plain dicts, so the SIP tests do not depend on the router's internals.

World: carriers acme (gateway 192.0.2.10, tech prefix 4455) and borealis (gateways
gw.borealis.example:5080, no tech prefix); 20 small carriers c00..c19 on 49 (for the 16-Contact
cap); customer globex (source IP 127.0.0.1, tech prefix 9901, a sell deck) and initech (tech
prefix 8802, out of credit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lcr.errors import BlockedDestination, InsufficientCredit, MalformedNumber, NoRoute, NotFound
from lcr.model import Gateway
from lcr.routing.answer import Route, RouteAnswer

ACME = ("acme", Gateway("192.0.2.10"), "4455")
BOREALIS = ("borealis", Gateway("gw.borealis.example", 5080), "")

# carrier deck: prefix -> [(carrier, rate micro/min)]
CARRIER_RATES: dict[str, list[tuple[tuple[str, Gateway, str], int]]] = {
    "44": [(ACME, 30_000), (BOREALIS, 25_000)],
    "4420": [(ACME, 10_000), (BOREALIS, 12_000)],
    "1": [(BOREALIS, 5_000)],
    "33": [(ACME, 90_000)],  # above every sell rate: no carrier left
    "49": [((f"c{i:02d}", Gateway(f"192.0.2.{100 + i}"), ""), 1_000 + 100 * (i % 7)) for i in range(20)],
}
# customer sell deck: prefix -> (destination, rate, blocked)
SELL: dict[str, tuple[str, int, bool]] = {
    "44": ("United Kingdom", 50_000, False),
    "4420": ("United Kingdom London", 40_000, False),
    "1": ("USA", 20_000, False),
    "33": ("France", 50_000, False),
    "49": ("Germany", 30_000, False),
    "881": ("Satellite", 900_000, True),
}


@dataclass(frozen=True)
class WorldSnapshot:
    customers: frozenset[str] = frozenset({"globex", "initech"})
    by_ip: dict[str, str] = field(default_factory=lambda: {"127.0.0.1": "globex"})
    tech_prefixes: dict[str, str] = field(default_factory=lambda: {"9901": "globex", "8802": "initech"})
    no_credit: frozenset[str] = frozenset({"initech"})
    calls: list[tuple[str, str | None]] = field(default_factory=list, compare=False)

    def customer_by_source_ip(self, ip: str) -> str | None:
        return self.by_ip.get(ip)

    def customer_by_tech_prefix(self, user: str) -> str | None:
        for prefix, name in self.tech_prefixes.items():
            if user.startswith(prefix):
                return name
        return None

    def lookup(self, number: str, customer: str | None = None) -> RouteAnswer:
        self.calls.append((number, customer))
        if customer is not None and customer not in self.customers:
            raise NotFound(f"no customer {customer!r}")
        n = number
        tech = next((p for p, c in self.tech_prefixes.items() if c == customer), "")
        if tech and n.startswith(tech):
            n = n[len(tech) :]
        for lead in ("+", "00", "011"):
            if n.startswith(lead):
                n = n[len(lead) :]
                break
        if not n or not n.isdigit() or not n.isascii() or len(n) > 32:
            raise MalformedNumber(f"{number!r} is not a number")
        sell = None
        sell_prefix = None
        if customer is not None:
            sell_prefix = next((n[:i] for i in range(len(n), 0, -1) if n[:i] in SELL), None)
            if sell_prefix is None:
                raise NoRoute(f"{n} is not in {customer}'s deck")
            _dest, sell, blocked = SELL[sell_prefix]
            if blocked:
                raise BlockedDestination(f"{n} is blocked for {customer}")
            if customer in self.no_credit:
                raise InsufficientCredit(f"{customer} has no credit left")
        cprefix = next((n[:i] for i in range(len(n), 0, -1) if n[:i] in CARRIER_RATES), None)
        offers = sorted(CARRIER_RATES.get(cprefix or "", []), key=lambda o: (o[1], o[0][0]))
        routes = tuple(
            Route(name, gw, tp, cprefix or "", rate)
            for (name, gw, tp), rate in offers
            if sell is None or rate <= sell
        )
        if not routes:
            raise NoRoute(f"no carrier for {n}")
        dest = SELL[sell_prefix][0] if sell_prefix else None
        return RouteAnswer(n, sell_prefix, dest, sell, routes)


def real_snapshot(at: int = 1_800_000_000, gateways: dict[str, Gateway] | None = None):
    """The same world compiled by the real router (``lcr.routing.build_snapshot``); ``gateways``
    moves carriers to other gateways (e.g. a SIP tester on loopback standing in for acme's)."""
    import polars as pl

    from lcr.model import Carrier, CreditState, Customer
    from lcr.routing import RoutingInputs, build_snapshot

    def frame(rows: list[tuple[str, str, int, bool]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "prefix": [r[0] for r in rows],
                "destination": [r[1] for r in rows],
                "rate": [r[2] for r in rows],
                "effective_from": [0] * len(rows),
                "effective_to": [None] * len(rows),
                "blocked": [r[3] for r in rows],
            },
            schema={"prefix": pl.String, "destination": pl.String, "rate": pl.Int64,
                    "effective_from": pl.Int64, "effective_to": pl.Int64, "blocked": pl.Boolean},
        )  # fmt: skip

    carriers: dict[str, Carrier] = {}
    carrier_rows: dict[str, list[tuple[str, str, int, bool]]] = {}
    for prefix, offers in CARRIER_RATES.items():
        for (name, gateway, tech), rate in offers:
            carriers[name] = Carrier(name, ((gateways or {}).get(name, gateway),), tech)
            carrier_rows.setdefault(name, []).append((prefix, SELL[prefix][0], rate, False))
    sell = frame([(p, d, r, b) for p, (d, r, b) in SELL.items()])
    customers = (
        Customer("globex", source_ips=("127.0.0.1",), tech_prefix="9901"),
        Customer("initech", prepaid=True, tech_prefix="8802"),
    )
    inputs = RoutingInputs(
        carriers=tuple(carriers.values()),
        customers=customers,
        carrier_rates={name: frame(rows) for name, rows in carrier_rows.items()},
        customer_rates={"globex": sell, "initech": sell},
        credit={"initech": CreditState(balance=0, credit_limit=None, prepaid=True)},
    )
    return build_snapshot(inputs, at)
