"""The routing rules stated as plainly as possible: a brute-force scan of every rate version.

Slow on purpose (every row of every deck per lookup): it is the yardstick the compiled
``Snapshot`` is tested against, not something to serve traffic with.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from lcr.errors import BlockedDestination, InsufficientCredit, NoRoute, NotFound
from lcr.routing.answer import Route, RouteAnswer
from lcr.routing.inputs import RoutingInputs
from lcr.routing.number import normalise


def _longest(frame: pl.DataFrame | None, number: str, at: int) -> dict[str, Any] | None:
    """The row in force at ``at`` whose prefix is the longest prefix of ``number``."""
    best = None
    for row in () if frame is None else frame.iter_rows(named=True):
        in_force = row["effective_from"] <= at and (row["effective_to"] is None or at < row["effective_to"])
        if in_force and number.startswith(row["prefix"]) and (best is None or len(row["prefix"]) > len(best["prefix"])):
            best = row
    return best


def reference_lookup(inputs: RoutingInputs, number: str, customer: str | None, at: int) -> RouteAnswer:
    """What ``build_snapshot(inputs, at).lookup(number, customer)`` must answer."""
    cust = None
    if customer is not None:
        cust = next((c for c in inputs.customers if c.name == customer), None)
        if cust is None:
            raise NotFound(f"no customer {customer!r}")
    n = normalise(number, cust.tech_prefix if cust else "")
    sell = None
    if cust is not None:
        sell = _longest(inputs.customer_rates.get(cust.name), n, at)
        if sell is None:
            raise NoRoute(f"{n} is not covered")
        if sell["blocked"]:
            raise BlockedDestination(f"{sell['prefix']} is blocked")
        state = inputs.credit.get(cust.name)
        if state is not None and state.refused:
            raise InsufficientCredit(f"{cust.name} has no credit")
    factor = (100 - Fraction(Decimal(cust.min_margin))) / 100 if cust else None

    routes = []
    longest_code: tuple[int, str, str] | None = None  # (-len, carrier, destination) of the longest code
    for carrier in inputs.carriers:
        if not carrier.gateways:
            continue  # a carrier without a gateway cannot carry a call
        row = _longest(inputs.carrier_rates.get(carrier.name), n, at)
        if row is None:
            continue
        candidate = (-len(row["prefix"]), carrier.name, row["destination"])
        longest_code = candidate if longest_code is None else min(longest_code, candidate)
        if row["blocked"]:
            continue
        rate = row["rate"]
        if sell is not None and factor is not None and rate > sell["rate"] * factor:
            continue
        routes.append(Route(carrier.name, carrier.gateways[0], carrier.tech_prefix, row["prefix"], rate))
    routes.sort(key=lambda r: (r.rate, r.carrier))
    if not routes:
        raise NoRoute(f"no carrier for {n}")
    if sell is not None:
        return RouteAnswer(n, sell["prefix"], sell["destination"], sell["rate"], tuple(routes))
    assert longest_code is not None
    return RouteAnswer(n, None, longest_code[2], None, tuple(routes))
