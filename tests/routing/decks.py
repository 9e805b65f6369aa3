"""Small hand-written routing worlds for the routing tests."""

from __future__ import annotations

import polars as pl

from lcr.model import Carrier, CreditState, Customer, Gateway
from lcr.routing.inputs import RoutingInputs

NOW = 1_800_000_000
HOUR = 3_600

SCHEMA = {
    "prefix": pl.String,
    "destination": pl.String,
    "rate": pl.Int64,
    "effective_from": pl.Int64,
    "effective_to": pl.Int64,
    "blocked": pl.Boolean,
    "connect_fee": pl.Int64,  # ignored by the router
}


def deck(*rows: tuple) -> pl.DataFrame:
    """Rows ``(prefix, rate[, effective_from[, effective_to[, blocked[, destination]]]])``."""
    full = []
    for row in rows:
        prefix, rate, start, end, blocked, dest = (*row, *(None,) * (6 - len(row)))
        full.append(
            (prefix, dest or f"dest {prefix}", rate, NOW - HOUR if start is None else start, end, bool(blocked), 0)
        )
    return pl.DataFrame(full, schema=SCHEMA, orient="row")


# Carriers: alpha (tech prefix 11), bravo (two gateways: the first one is used), charlie, and
# zulu, which has no gateway and so never routes.
ALPHA = Carrier("alpha", (Gateway("a.example"),), tech_prefix="11")
BRAVO = Carrier("bravo", (Gateway("b1.example", 5080), Gateway("b2.example")))
CHARLIE = Carrier("charlie", (Gateway("192.0.2.3"),))
ZULU = Carrier("zulu", ())

CARRIER_DECKS = {
    "alpha": deck(
        ("44", 100_000),
        ("4420", 50_000, None, NOW - 1),  # closed before NOW: alpha falls back to 44
        ("447", 200_000),
        ("33", 10_000, None, None, True),  # alpha blocks 33
        ("1", 10_000),
        ("49", 30_000, NOW - 10 * HOUR, NOW - HOUR),  # history: the 49 version before...
        ("49", 40_000, NOW - HOUR, NOW + HOUR),  # ...the current one, which ends at NOW + 1h
        ("90", 90_000),  # exactly at acme's threshold for 90 (sell 100_000, margin 10 %)
    ),
    "bravo": deck(
        ("44", 90_000),
        ("447", 200_000),  # same rate as alpha: alpha first (by name)
        ("4479", 20_000, None, None, True),  # blocked: bravo drops out of 4479..., not back to 447
        ("33", 20_000),
        ("1", 10_000),  # same rate as alpha on 1
        ("49", 35_000, NOW + 2 * HOUR),  # future: not yet in force
        ("90", 90_001),  # one micro-unit above acme's threshold: dropped
    ),
    "charlie": deck(
        ("4", 500_000),
        ("4420", 40_000),
        ("881", 1_000),
    ),
    "zulu": deck(("44", 1)),
}

# Customers: acme (tech prefix 9901, source IP 192.0.2.10, 10 % min margin), broke (no credit),
# free (no sell deck), loose (no min margin).
ACME = Customer("acme", source_ips=("192.0.2.10",), tech_prefix="9901", min_margin="10")
BROKE = Customer("broke", prepaid=True, source_ips=("192.0.2.11",), tech_prefix="99015")
FREE = Customer("free")
LOOSE = Customer("loose", min_margin="0")

CUSTOMER_DECKS = {
    "acme": deck(
        ("44", 150_000, None, None, False, "United Kingdom"),
        ("447", 250_000, None, None, False, "United Kingdom Mobile"),
        ("4478", 150_000, None, None, False, "United Kingdom Mobile Promo"),
        ("4420", 120_000, None, None, False, "London"),
        ("33", 30_000, None, None, False, "France"),
        ("1", 12_000, None, None, False, "USA"),
        ("49", 50_000, None, None, False, "Germany"),
        ("881", 900_000, None, None, True, "Satellite"),  # blocked by the customer: 403
        ("90", 100_000, None, None, False, "Turkey"),
        ("7", 1_000, None, None, False, "Russia"),  # sold below every carrier: no carrier left
        ("86", 10_000, None, NOW - 1, False, "China"),  # closed: not covered any more
    ),
    "broke": deck(("44", 150_000), ("881", 900_000, None, None, True)),
    "loose": deck(("44", 90_000), ("447", 200_000)),
}

CREDIT = {
    "broke": CreditState(balance=0, credit_limit=None, prepaid=True),
    "acme": CreditState(balance=-5_000_000, credit_limit=10_000_000, prepaid=False),
}


def inputs(**changes: object) -> RoutingInputs:
    fields = {
        "carriers": (ZULU, CHARLIE, BRAVO, ALPHA),  # not in name order on purpose
        "customers": (ACME, BROKE, FREE, LOOSE),
        "carrier_rates": CARRIER_DECKS,
        "customer_rates": CUSTOMER_DECKS,
        "credit": CREDIT,
    }
    fields.update(changes)
    return RoutingInputs(**fields)  # type: ignore[arg-type]
