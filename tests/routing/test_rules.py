"""The contract's routing rules, case by case, over the small world of ``decks.py``."""

from __future__ import annotations

import pytest

from lcr.errors import BlockedDestination, InsufficientCredit, MalformedNumber, NoRoute, NotFound
from lcr.model import CreditState, Gateway
from lcr.routing import Route, build_snapshot, lookup_at, normalise
from lcr.routing.compile import key
from lcr.routing.reference import reference_lookup

from .decks import HOUR, NOW, inputs


@pytest.fixture(scope="module")
def snapshot():
    return build_snapshot(inputs(), NOW)


def routes(answer):
    """``(carrier, prefix, rate, margin)`` per route, in order."""
    return [(r.carrier, r.prefix, r.rate, answer.margin(r)) for r in answer.routes]


@pytest.mark.parametrize(
    ("number", "tech", "expected"),
    [
        ("442079460000", "", "442079460000"),  # plain digits
        ("+442079460000", "", "442079460000"),  # one leading +
        ("00442079460000", "", "442079460000"),  # one leading 00
        ("011442079460000", "", "442079460000"),  # one leading 011 (NANP international access)
        ("+00442079460000", "", "00442079460000"),  # only ONE international prefix is stripped
        ("0011442079460000", "", "11442079460000"),  # 00 wins over 011: the first that matches
        ("9901+442079460000", "9901", "442079460000"),  # tech prefix, then +
        ("9901011442079460000", "9901", "442079460000"),  # tech prefix, then 011
        ("442079460000", "9901", "442079460000"),  # no tech prefix in the number: nothing stripped
        ("99", "9901", "99"),  # shorter than the tech prefix: not stripped
        ("4", "", "4"),  # one digit is a number
        ("1" * 32, "", "1" * 32),  # 32 digits is the longest number
    ],
)
def test_normalise(number, tech, expected):
    assert normalise(number, tech) == expected


@pytest.mark.parametrize(
    ("number", "tech"),
    [
        ("", ""),  # empty
        ("+", ""),  # nothing after +
        ("00", ""),  # nothing after 00
        ("9901", "9901"),  # nothing after the tech prefix
        ("++44", ""),  # two + (only one is stripped)
        ("44 20", ""),  # a space
        ("44-20", ""),  # a dash
        ("4420a", ""),  # a letter
        ("\uff14\uff14", ""),  # fullwidth digits are not ASCII digits
        ("\u0664\u0664", ""),  # Arabic-Indic digits neither
        ("1" * 33, ""),  # 33 digits
    ],
)
def test_malformed(snapshot, number, tech):
    with pytest.raises(MalformedNumber):
        normalise(number, tech)
    with pytest.raises(MalformedNumber):
        snapshot.lookup(number, "acme" if tech else None)


A = ("alpha", Gateway("a.example"), "11")
B = ("bravo", Gateway("b1.example", 5080), "")  # bravo's FIRST gateway
C = ("charlie", Gateway("192.0.2.3"), "")


@pytest.mark.parametrize(
    ("number", "customer", "expected"),
    [
        # no customer: every carrier that covers the number, cheapest first, no margin
        ("442079460000", None, [("charlie", "4420", 40_000, None), ("bravo", "44", 90_000, None),
                                ("alpha", "44", 100_000, None)]),  # alpha's 4420 is closed: back to 44
        ("447700900123", None, [("alpha", "447", 200_000, None), ("bravo", "447", 200_000, None),
                                ("charlie", "4", 500_000, None)]),  # tie on rate: by name
        ("447912345678", None, [("alpha", "447", 200_000, None),
                                ("charlie", "4", 500_000, None)]),  # bravo blocks 4479: not back to 447
        ("33123456", None, [("bravo", "33", 20_000, None)]),  # alpha blocks 33
        ("12125550100", None, [("alpha", "1", 10_000, None), ("bravo", "1", 10_000, None)]),  # tie
        ("4930123", None, [("alpha", "49", 40_000, None),  # the version in force, not history
                           ("charlie", "4", 500_000, None)]),  # bravo's 49 starts later
        ("4", None, [("charlie", "4", 500_000, None)]),  # the number is the prefix
        # customer acme: min margin 10 %, so a carrier is kept iff rate <= sell * 0.9
        ("442079460000", "acme", [("charlie", "4420", 40_000, 80_000), ("bravo", "44", 90_000, 30_000),
                                  ("alpha", "44", 100_000, 20_000)]),  # sell 4420 = 120,000
        ("447700900123", "acme", [("alpha", "447", 200_000, 50_000),
                                  ("bravo", "447", 200_000, 50_000)]),  # charlie 500,000 > 225,000
        ("447912345678", "acme", [("alpha", "447", 200_000, 50_000)]),  # bravo blocked, charlie margin
        ("901234567", "acme", [("alpha", "90", 90_000, 10_000)]),  # exactly sell*0.9 kept; +1 dropped
        ("4930123", "acme", [("alpha", "49", 40_000, 10_000)]),  # charlie above 45,000
        ("9901+442079460000", "acme", [("charlie", "4420", 40_000, 80_000), ("bravo", "44", 90_000, 30_000),
                                       ("alpha", "44", 100_000, 20_000)]),  # tech prefix then +
        ("9901011447700900123", "acme", [("alpha", "447", 200_000, 50_000),
                                         ("bravo", "447", 200_000, 50_000)]),  # tech prefix then 011
        # customer loose: min margin 0, sell 44 = 90,000: bravo at 90,000 kept (margin 0)
        ("442079460000", "loose", [("charlie", "4420", 40_000, 50_000), ("bravo", "44", 90_000, 0)]),
    ],
)
def test_routes(snapshot, number, customer, expected):
    answer = snapshot.lookup(number, customer)
    assert routes(answer) == expected
    heads = {"alpha": A, "bravo": B, "charlie": C}
    assert [(r.carrier, r.gateway, r.tech_prefix) for r in answer.routes] == [heads[e[0]] for e in expected]
    assert answer == reference_lookup(inputs(), number, customer, NOW)


@pytest.mark.parametrize(
    ("number", "customer", "error"),
    [
        ("5123", None, NoRoute),  # no carrier covers 5
        ("7123", None, NoRoute),  # nor 7
        ("+00442079460000", None, NoRoute),  # + stripped, 00442... left: nobody covers 0
        ("zz", "nobody", NotFound),  # unknown customer, whatever the number
        ("zz", "acme", MalformedNumber),  # 400 first
        ("5123", "acme", NoRoute),  # 404: acme's deck does not cover 5
        ("8612345", "acme", NoRoute),  # 404: acme's 86 is closed
        ("881234", "acme", BlockedDestination),  # 403: acme blocks 881 (charlie would carry it)
        ("7123", "acme", NoRoute),  # 404: acme sells 7, no carrier covers it
        ("33123456", "loose", NoRoute),  # 404: loose does not sell 33
        ("442079460000", "free", NoRoute),  # 404: free has no deck at all
        ("5123", "broke", NoRoute),  # 404 comes before 402
        ("881234", "broke", BlockedDestination),  # 403 comes before 402
        ("442079460000", "broke", InsufficientCredit),  # 402: prepaid with a zero balance
        ("99015442079460000", "broke", InsufficientCredit),  # broke's tech prefix 99015 stripped
        ("447812345678", "acme", NoRoute),  # 404: sell 4478 = 150,000, every carrier above 135,000
    ],
)
def test_refusals(snapshot, number, customer, error):
    with pytest.raises(error):
        snapshot.lookup(number, customer)
    with pytest.raises(error):
        reference_lookup(inputs(), number, customer, NOW)


def test_answer_fields(snapshot):
    with_customer = snapshot.lookup("+442079460000", "acme")
    assert (with_customer.number, with_customer.prefix, with_customer.destination, with_customer.sell_rate) == (
        "442079460000", "4420", "London", 120_000)
    assert with_customer.routes[0] == Route("charlie", Gateway("192.0.2.3"), "", "4420", 40_000)
    assert with_customer.margin(with_customer.routes[0]) == 80_000
    without = snapshot.lookup("+442079460000")
    # without a customer: no sell prefix or rate; the destination is the longest carrier code's
    # name (at the first carrier by name holding it)
    assert (without.number, without.prefix, without.destination, without.sell_rate) == (
        "442079460000", None, "dest 4420", None)
    assert without.explanation is None and without.refusal is None


def test_margin_cut_shares_the_compiled_list(snapshot):
    # 4930123: acme's margin keeps alpha (40,000) and drops charlie (500,000)
    cut = snapshot.lookup("4930123", "acme")
    whole = snapshot.lookup("4930123")
    assert cut.listed is whole.listed  # the snapshot's own list, not a copy
    assert [r.carrier for r in whole.routes] == ["alpha", "charlie"]
    assert [r.carrier for r in cut.routes] == ["alpha"] and cut.kept == 1
    # answers compare by meaning: the same routes held as a cut or as a whole tuple are equal
    same = cut._replace(listed=cut.routes, kept=None)
    assert same == cut and hash(same) == hash(cut)
    assert cut._replace(kept=2) != cut  # charlie kept too: another answer
    assert cut != tuple(cut)  # never equal to a plain tuple of the same fields


def test_sell_codes_at_union_leaves_carry_the_union_entry(snapshot):
    union, inner = snapshot.tables.union, snapshot.tables.inner
    codes = snapshot.sell_tables["acme"].codes
    assert codes[key("4420")][5] is union[key("4420")]  # a leaf of the union: carried
    assert key("447") in inner and codes[key("447")][5] is None  # 4479 lies under 447: probed
    assert key("4478") not in union and codes[key("4478")][5] is None  # no carrier code 4478
    # the carried entry and the probe give the same answers
    assert routes(snapshot.lookup("442079460000", "acme")) == routes(
        reference_lookup(inputs(), "442079460000", "acme", NOW))
    assert routes(snapshot.lookup("4479123", "acme")) == routes(reference_lookup(inputs(), "4479123", "acme", NOW))


def test_credit_is_checked_only_when_refused(snapshot):
    # acme: balance -5 + limit 10 = 5 available; a missing customer is unlimited (loose)
    assert snapshot.lookup("442079460000", "acme").routes
    assert snapshot.lookup("442079460000", "loose").routes


def test_with_credit_swaps_credit_only(snapshot):
    paid = snapshot.with_credit({"broke": CreditState(balance=1, credit_limit=None, prepaid=True)})
    assert routes(paid.lookup("442079460000", "broke"))[0][0] == "charlie"
    with pytest.raises(InsufficientCredit):
        snapshot.lookup("442079460000", "broke")  # the original is unchanged
    with pytest.raises(InsufficientCredit):  # at zero available: refused
        paid.with_credit({"acme": CreditState(-10_000_000, 10_000_000, False)}).lookup("442079460000", "acme")
    assert paid.at == snapshot.at and paid.valid_until == snapshot.valid_until


@pytest.mark.parametrize(
    ("at", "valid_until", "number", "expected"),
    [
        (NOW, NOW + HOUR, "4930123", [("alpha", 40_000), ("charlie", 500_000)]),  # alpha 49 ends at +1h
        (NOW + HOUR - 1, NOW + HOUR, "4930123", [("alpha", 40_000), ("charlie", 500_000)]),  # still
        (NOW + HOUR, NOW + 2 * HOUR, "4930123", [("charlie", 500_000)]),  # alpha's 49 gone, 4 is not its
        (NOW + 2 * HOUR, None, "4930123", [("bravo", 35_000), ("charlie", 500_000)]),  # bravo's 49 starts
        (NOW - 5 * HOUR, NOW - HOUR, "4930123", [("alpha", 30_000)]),  # the past: alpha's older 49 only
        (NOW - 2, NOW - 1, "442079460000", [("charlie", 40_000), ("alpha", 50_000), ("bravo", 90_000)]),
        (NOW - 1, NOW + HOUR, "442079460000", [("charlie", 40_000), ("bravo", 90_000), ("alpha", 100_000)]),
    ],
)
def test_instants_and_valid_until(at, valid_until, number, expected):
    snap = build_snapshot(inputs(), at)
    assert (snap.at, snap.valid_until) == (at, valid_until)
    got = [(r.carrier, r.rate) for r in snap.lookup(number).routes]
    assert got == expected
    assert lookup_at(inputs(), number, None, at) == snap.lookup(number)
    assert reference_lookup(inputs(), number, None, at) == snap.lookup(number)


def test_customer_identification(snapshot):
    assert snapshot.customer_by_source_ip("192.0.2.10") == "acme"
    assert snapshot.customer_by_source_ip("192.0.2.99") is None
    assert snapshot.customer_by_tech_prefix("9901442079460000") == "acme"
    assert snapshot.customer_by_tech_prefix("99015442079460000") == "broke"  # longest tech prefix wins
    assert snapshot.customer_by_tech_prefix("990") is None
    assert snapshot.customer_by_tech_prefix("442079460000") is None


def test_carriers_without_gateway_are_not_routable(snapshot):
    assert snapshot.carriers == ("alpha", "bravo", "charlie")  # zulu has no gateway


def test_empty_world():
    snap = build_snapshot(inputs(carrier_rates={}, customer_rates={}, credit={}), NOW)
    assert snap.valid_until is None
    with pytest.raises(NoRoute):
        snap.lookup("44")
    with pytest.raises(NoRoute):
        snap.lookup("44", "acme")


@pytest.mark.parametrize(
    ("number", "customer"),
    [("442079460000", "acme"), ("9901011447700900123", "acme"), ("442079460000", "loose"), ("4930123", None)],
)
def test_answers_share_the_compiled_routes(snapshot, number, customer):
    # a lookup allocates no Route: every answer holds the snapshot's own, and margins come from the answer
    first, second = snapshot.lookup(number, customer), snapshot.lookup(number, customer)
    assert first == second and all(a is b for a, b in zip(first.routes, second.routes, strict=True))
    assert [first.margin(r) for r in first.routes] == [
        None if first.sell_rate is None else first.sell_rate - r.rate for r in first.routes]
