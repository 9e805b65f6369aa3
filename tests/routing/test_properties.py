"""Property tests: the compiled snapshot against the brute-force reference, on random worlds.

Random worlds have few digits (so prefixes nest), few instants (so versions start and end
around the instant asked), few rate values (so rates tie), blocked codes, carriers without a
gateway, customers with tech prefixes, margins (negative, fractional, 100 %) and no credit.
"""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcr.errors import LcrError
from lcr.model import Carrier, CreditState, Customer, Gateway
from lcr.routing import RoutingInputs, build_snapshot, lookup_at
from lcr.routing.advance import advance_snapshot, reload_snapshot
from lcr.routing.reference import reference_lookup

from .decks import SCHEMA

INSTANTS = (-10, 0, 10, 20, 30, 40)
prefixes = st.text("1203", min_size=1, max_size=4).filter(lambda p: not p.startswith("0"))


@st.composite
def versions(draw, prefix: str) -> list[tuple]:
    """Non-overlapping versions of one code: consecutive intervals, the last one maybe open."""
    bounds = sorted(draw(st.sets(st.sampled_from(INSTANTS), min_size=1, max_size=4)))
    open_end = draw(st.sampled_from((True, True, False)))
    rows = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else (None if open_end else start + 5)
        if i + 1 < len(bounds) and draw(st.sampled_from((False, False, True))):
            end = start + 5  # a gap: closed, then a later version
        rate = draw(st.sampled_from((100, 200, 300, 450, 1000, 2000)))
        blocked = draw(st.sampled_from((False, False, False, True)))
        rows.append((prefix, f"d{prefix}", rate, start, end, blocked, 0))
    return rows


@st.composite
def decks(draw, pool: list[str]) -> pl.DataFrame:
    rows = []
    mine = {p for p in pool if draw(st.sampled_from((True, True, True, False)))}
    for prefix in mine | draw(st.sets(prefixes, max_size=2)):
        rows += draw(versions(prefix))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


@st.composite
def worlds(draw) -> tuple[RoutingInputs, list[str]]:
    """A world, and the prefixes its decks mostly draw from."""
    stems = draw(st.lists(prefixes, min_size=1, max_size=3))
    pool = sorted({stem[:i] for stem in stems for i in range(1, len(stem) + 1)})  # nested chains
    names = draw(st.sets(st.sampled_from("abcde"), min_size=1, max_size=4))
    carriers = tuple(
        Carrier(n, () if n == "e" else (Gateway(f"{n}.example"),), tech_prefix=draw(st.sampled_from(("", "7"))))
        for n in sorted(names, reverse=True)
    )
    customers = (
        Customer("x", tech_prefix=draw(st.sampled_from(("", "9", "12"))),
                 min_margin=draw(st.sampled_from(("0", "10", "2.5", "33.333", "-5", "100")))),
        Customer("y", min_margin=draw(st.sampled_from(("0", "50")))),
    )
    credit = {}
    if draw(st.booleans()):
        credit["y"] = CreditState(balance=draw(st.sampled_from((-1, 0, 1))), credit_limit=None, prepaid=True)
    world = RoutingInputs(
        carriers=carriers,
        customers=customers,
        carrier_rates={c.name: draw(decks(pool)) for c in carriers},
        customer_rates={"x": draw(decks(pool)), "y": draw(decks(pool))},
        credit=credit,
    )
    return world, pool


@st.composite
def numbers(draw, pool: list[str]) -> str:
    """A number under a prefix of the pool (or any digits), maybe with a tech or international prefix."""
    head = draw(st.sampled_from(pool) | st.text("1203", max_size=2))
    tail = draw(st.text("1203", max_size=4))
    return draw(st.sampled_from(("", "", "", "+", "00", "011", "9", "12", "1200"))) + head + tail


def outcome(call):
    try:
        return call()
    except LcrError as exc:
        return type(exc)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.data(), st.sampled_from((None, "x", "y")),
       st.sampled_from(INSTANTS) | st.integers(-5, 50), st.integers(0, 60))
def test_snapshot_equals_reference(world_pool, data, customer, at, later):
    world, pool = world_pool
    dialled = data.draw(st.lists(numbers(pool), min_size=1, max_size=8))
    snap = build_snapshot(world, at)
    assert snap.at == at
    assert snap.valid_until is None or snap.valid_until > at
    # a later instant still within [at, valid_until): the answers must not change
    until = snap.valid_until if snap.valid_until is not None else at + 100
    same = build_snapshot(world, at + later % (until - at))
    for number in dialled:
        got = outcome(lambda n=number: snap.lookup(n, customer))
        assert got == outcome(lambda n=number: reference_lookup(world, n, customer, at)), number
        assert got == outcome(lambda n=number: same.lookup(n, customer)), number
        assert got == outcome(lambda n=number: lookup_at(world, n, customer, at)), number
        explained = outcome(lambda n=number: snap.explain(n, customer))
        if isinstance(got, type):
            if not isinstance(explained, type):  # refusals are explained, with the same code
                assert explained.refusal is not None and explained.routes == ()
                assert explained.refusal.code == got.code
            else:
                assert explained is got
        else:
            assert explained.routes == got.routes and explained.refusal is None
            kept = [e.carrier for e in explained.explanation if e.verdict == "kept"]
            assert kept == [r.carrier for r in got.routes]
            assert sorted(e.carrier for e in explained.explanation) == list(snap.carriers)
            order = [(r.rate, r.carrier) for r in got.routes]
            assert order == sorted(order)  # least cost first, ties by carrier name


def assert_same_snapshot(patched, fresh, dialled) -> None:
    """A patched snapshot holds the tables of a fresh build (entry ids aside) and explains alike."""
    assert (patched.at, patched.valid_until) == (fresh.at, fresh.valid_until)
    a, f = patched.tables, fresh.tables
    assert {k: e[:3] for k, e in a.union.items()} == {k: e[:3] for k, e in f.union.items()}
    assert (a.start, a.max_len) == (f.start, f.max_len)
    assert {k: a.blocked.get(e[3]) for k, e in a.union.items()} == {k: f.blocked.get(e[3]) for k, e in f.union.items()}
    assert a.inner == f.inner

    def codes(table, union):  # the carried union entry must be the snapshot's own (ids aside)
        for k, code in table.codes.items():
            assert code[5] is (None if k in union.inner else union.union.get(k)), (k, code[0])
        return {k: (*code[:5], code[5] and code[5][:3]) for k, code in table.codes.items()}

    for name, table in fresh.sell_tables.items():
        mine = patched.sell_tables[name]
        assert codes(mine, a) == codes(table, f)
        assert (mine.start, mine.max_len) == (table.start, table.max_len)
    for number in dialled:
        for customer in (None, "x", "y"):
            assert outcome(lambda n=number, c=customer: patched.explain(n, c)) == outcome(
                lambda n=number, c=customer: fresh.explain(n, c)), (number, customer)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.data(), st.sampled_from(INSTANTS) | st.integers(-15, 50), st.integers(0, 60))
def test_advanced_snapshot_equals_a_fresh_build(world_pool, data, at, later):
    """Patching a snapshot forward (the timed switch) gives the tables a full build gives."""
    world, pool = world_pool
    t = at + later
    advanced = advance_snapshot(build_snapshot(world, at), world, t)
    fresh = build_snapshot(world, t)
    assert_same_snapshot(advanced, fresh, data.draw(st.lists(numbers(pool), min_size=1, max_size=8)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.data(), st.sampled_from(INSTANTS) | st.integers(-15, 50), st.integers(0, 30))
def test_reloaded_snapshot_equals_a_fresh_build(world_pool, data, at, later):
    """Patching a snapshot after deck imports (some decks replaced, some dropped) gives the
    tables a full build of the new decks gives."""
    world, pool = world_pool
    names = sorted(world.carrier_rates)
    edited = data.draw(st.sets(st.sampled_from(names)))
    carrier_rates = {n: data.draw(decks(pool)) if n in edited else f for n, f in world.carrier_rates.items()}
    if data.draw(st.booleans()):
        carrier_rates.pop(names[0])
    customer_rates = dict(world.customer_rates)
    if data.draw(st.booleans()):
        customer_rates["x"] = data.draw(decks(pool))
    if data.draw(st.booleans()):
        customer_rates.pop("y")
    after = RoutingInputs(world.carriers, world.customers, carrier_rates, customer_rates, world.credit)
    t = at + later
    reloaded = reload_snapshot(build_snapshot(world, at), world, after, t)
    fresh = build_snapshot(after, t)
    assert reloaded is not None
    assert_same_snapshot(reloaded, fresh, data.draw(st.lists(numbers(pool), min_size=1, max_size=8)))


def test_reload_with_other_parties_is_a_full_build() -> None:
    world = RoutingInputs((Carrier("a", (Gateway("a.example"),)),), (Customer("x"),), {}, {}, {})
    other = RoutingInputs((Carrier("a", (Gateway("b.example"),)),), (Customer("x"),), {}, {}, {})
    assert reload_snapshot(build_snapshot(world, 0), world, other, 0) is None
