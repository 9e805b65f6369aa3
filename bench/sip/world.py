"""The SIP benchmark's routing world, served identically by lcr and by Kamailio.

Workload: 50,000 distinct prefixes (4-7 digits, seeded, prefix-free: none is a prefix of
another), three carriers covering all of them (``alpha`` gateway 192.0.2.1 with tech prefix
4455, ``bravo`` 192.0.2.2:5080, ``charlie`` 192.0.2.3), rates drawn per carrier and prefix;
customer ``globex`` (source IP 127.0.0.1) sells every prefix above all three rates, so every
INVITE gets a 302 with three Contacts, least cost first. Dialled numbers are 12 digits: a
prefix of the world plus random digits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import polars as pl

from lcr.model import Carrier, Customer, Gateway
from lcr.routing import RoutingInputs

PREFIXES = 50_000
CARRIERS = (
    Carrier("alpha", (Gateway("192.0.2.1"),), "4455"),
    Carrier("bravo", (Gateway("192.0.2.2", 5080),), ""),
    Carrier("charlie", (Gateway("192.0.2.3"),), ""),
)
CUSTOMER = Customer("globex", source_ips=("127.0.0.1",))


@dataclass(frozen=True)
class World:
    prefixes: tuple[str, ...]
    rates: dict[str, tuple[int, ...]]  # carrier name -> rate per prefix (same order as prefixes)
    sell: tuple[int, ...]


def make_world(seed: int = 7, prefixes: int = PREFIXES) -> World:
    rng = random.Random(seed)
    seen: set[str] = set()
    stems: set[str] = set()  # every proper prefix of a chosen code
    for _ in range(prefixes * 10):  # bounded; ends far earlier
        if len(seen) == prefixes:
            break
        p = str(rng.randint(2, 9)) + "".join(rng.choices("0123456789", k=rng.randint(3, 6)))
        # prefix-free: no code is a prefix of another, so every number has exactly 3 routes
        if p in stems or any(p[:k] in seen for k in range(4, len(p) + 1)):
            continue
        seen.add(p)
        stems.update(p[:k] for k in range(4, len(p)))
    prefixes = tuple(sorted(seen))
    rates = {c.name: tuple(rng.randint(1_000, 200_000) for _ in prefixes) for c in CARRIERS}
    sell = tuple(max(r[i] for r in rates.values()) * 13 // 10 for i in range(len(prefixes)))
    return World(prefixes, rates, sell)


def _frame(prefixes: tuple[str, ...], rates: tuple[int, ...]) -> pl.DataFrame:
    n = len(prefixes)
    return pl.DataFrame(
        {"prefix": prefixes, "destination": ["Bench"] * n, "rate": rates, "effective_from": [0] * n,
         "effective_to": [None] * n, "blocked": [False] * n},
        schema={"prefix": pl.String, "destination": pl.String, "rate": pl.Int64, "effective_from": pl.Int64,
                "effective_to": pl.Int64, "blocked": pl.Boolean},
    )  # fmt: skip


def routing_inputs(world: World) -> RoutingInputs:
    return RoutingInputs(
        carriers=CARRIERS,
        customers=(CUSTOMER,),
        carrier_rates={name: _frame(world.prefixes, r) for name, r in world.rates.items()},
        customer_rates={CUSTOMER.name: _frame(world.prefixes, world.sell)},
        credit={},
    )


def kamailio_routes(world: World) -> list[tuple[str, str]]:
    """(prefix, ``tech|gateway|tech|gateway|tech|gateway``) in lcr's order: rate, then name."""
    rows = []
    for i, prefix in enumerate(world.prefixes):
        order = sorted(CARRIERS, key=lambda c: (world.rates[c.name][i], c.name))
        rows.append((prefix, "|".join(f"{c.tech_prefix}|{c.gateways[0]}" for c in order)))
    return rows


def numbers(world: World, count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        p = rng.choice(world.prefixes)
        out.append(p + "".join(rng.choices("0123456789", k=12 - len(p))))
    return out
