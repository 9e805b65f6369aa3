"""``Snapshot.explain``: one verdict per routable carrier, and refusals explained, not raised."""

from __future__ import annotations

import pytest

from lcr.errors import MalformedNumber, NotFound
from lcr.routing import build_snapshot, explain_at

from .decks import NOW, inputs


@pytest.fixture(scope="module")
def snapshot():
    return build_snapshot(inputs(), NOW)


@pytest.mark.parametrize(
    ("number", "customer", "refusal", "verdicts"),
    [
        # kept in route order, then margin, blocked, no coverage
        ("447912345678", "acme", None,
         [("alpha", "447", "kept"), ("charlie", "4", "margin"), ("bravo", "4479", "blocked")]),
        # no customer: no margin to check; charlie has no code for 33
        ("33123456", None, None,
         [("bravo", "33", "kept"), ("alpha", "33", "blocked"), ("charlie", None, "no coverage")]),
        # exact boundary: alpha at sell * 0.9 kept, bravo one micro-unit above dropped
        ("901234567", "acme", None,
         [("alpha", "90", "kept"), ("bravo", "90", "margin"), ("charlie", None, "no coverage")]),
        # 403: acme blocks 881; carriers are judged on coverage only (no sell rate to apply)
        ("881234", "acme", ("BLOCKED", 403),
         [("charlie", "881", "kept"), ("alpha", None, "no coverage"), ("bravo", None, "no coverage")]),
        # 402: the routes lookup would give if broke had credit are explained
        ("442079460000", "broke", ("NO_CREDIT", 402),
         [("charlie", "4420", "kept"), ("bravo", "44", "kept"), ("alpha", "44", "kept")]),
        # 404, not covered by the customer's deck: no sell rate either
        ("5123", "acme", ("NO_ROUTE", 404),
         [("alpha", None, "no coverage"), ("bravo", None, "no coverage"), ("charlie", None, "no coverage")]),
        # 404, no carrier left after the margin filter
        ("447812345678", "acme", ("NO_ROUTE", 404),
         [("alpha", "447", "margin"), ("bravo", "447", "margin"), ("charlie", "4", "margin")]),
    ],
)
def test_explain(snapshot, number, customer, refusal, verdicts):
    answer = snapshot.explain(number, customer)
    assert [(e.carrier, e.prefix, e.verdict) for e in answer.explanation] == verdicts
    if refusal is None:
        assert answer.refusal is None
        assert answer.routes == snapshot.lookup(number, customer).routes
    else:
        assert (answer.refusal.code, answer.refusal.http_status) == refusal
        assert answer.refusal.message
        assert answer.routes == ()
    assert answer == explain_at(inputs(), number, customer, NOW)


def test_explain_details_quote_the_rule(snapshot):
    by_carrier = {e.carrier: e for e in snapshot.explain("901234567", "acme").explanation}
    assert by_carrier["alpha"].detail == "0.090000 <= 0.100000 x (1 - 10%)"
    assert by_carrier["bravo"].detail == "0.090001 > 0.100000 x (1 - 10%)"
    assert by_carrier["charlie"].rate is None


def test_explain_refused_answer_fields(snapshot):
    def fields(a):
        return (a.number, a.prefix, a.destination, a.sell_rate)

    assert fields(snapshot.explain("881234", "acme")) == ("881234", "881", "Satellite", 900_000)
    assert fields(snapshot.explain("+5123", "acme")) == ("5123", None, None, None)


@pytest.mark.parametrize(("number", "customer", "error"), [("4a", None, MalformedNumber), ("44", "nobody", NotFound)])
def test_explain_still_raises(snapshot, number, customer, error):
    with pytest.raises(error):
        snapshot.explain(number, customer)
