"""build_invoice: lines and totals are exact sums; the JSON document keeps the contract's shape."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lcr.billing import InvoiceCall, build_invoice
from tests.billing.samples import MARCH_1, SMALL_CALLS, small_facts

DESTINATIONS = ("Spain - Mobile", "spain - mobile", "Germany", "Zimbabwe", "Åland", "Ghana - Fixed", "")

calls_strategy = st.lists(
    st.builds(
        InvoiceCall,
        call_id=st.text(min_size=1, max_size=8),
        start_time=st.integers(MARCH_1, MARCH_1 + 31 * 86400 - 1),
        dst=st.text("0123456789", min_size=4, max_size=15),
        destination=st.sampled_from(DESTINATIONS),
        prefix=st.text("0123456789", min_size=1, max_size=6),
        billsec=st.integers(0, 100_000),
        billed_seconds=st.integers(0, 100_000),
        rate=st.sampled_from((1, 8_900, 45_000, 10_000_000)),
        amount=st.integers(0, 10**12),
    ),
    max_size=60,
)


def expected_minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def micro(text: str) -> int:
    return int(Decimal(text) * 1_000_000)


@settings(max_examples=80, deadline=None)
@given(calls_strategy)
def test_totals_and_lines_are_exact_sums(calls: list[InvoiceCall]) -> None:
    inv = build_invoice(small_facts(calls=tuple(calls)))
    assert inv.total == sum(c.amount for c in calls)
    assert sum(line.calls for line in inv.lines) == len(calls)
    assert sum(line.amount for line in inv.lines) == inv.total
    by_dest: dict[str, list[InvoiceCall]] = defaultdict(list)
    for c in calls:
        by_dest[c.destination].append(c)
    assert [line.destination for line in inv.lines] == sorted(by_dest, key=lambda d: (d.casefold(), d))
    for line in inv.lines:
        mine = by_dest[line.destination]
        assert line.calls == len(mine)
        assert line.amount == sum(c.amount for c in mine)
        assert line.billed_seconds == sum(c.billed_seconds for c in mine)
        assert line.minutes == expected_minutes(line.billed_seconds)
        rates = {c.rate for c in mine}
        assert line.rate == (rates.pop() if len(rates) == 1 else None)


@settings(max_examples=60, deadline=None)
@given(calls_strategy)
def test_json_amounts_add_up_exactly(calls: list[InvoiceCall]) -> None:
    doc: dict[str, Any] = build_invoice(small_facts(calls=tuple(calls))).to_json()
    assert micro(doc["total"]) == sum(c.amount for c in calls)
    assert sum(micro(line["amount"]) for line in doc["lines"]) == micro(doc["total"])
    assert sum(line["calls"] for line in doc["lines"]) == len(calls)
    for line in doc["lines"]:
        assert Decimal(line["minutes"]) == expected_minutes(line["billed_seconds"])


def test_the_small_invoice_by_hand() -> None:
    inv = build_invoice(small_facts())
    got = {line.destination: (line.calls, line.billed_seconds, line.rate, line.amount) for line in inv.lines}
    assert got == {
        # 241 s at 0.0521/min = 0.2092683 -> 0.209268; the 0 s call costs 0
        "France - Mobile": (2, 241, 52_100, 209_268),
        "Germany - Fixed": (2, 180, None, 26_900),  # 60/60 billing: 120 s at 0.0089 + 60 s at 0.0091; two rates
        "Germany - Mobile": (2, 125, 45_000, 93_750),
        "United Kingdom - Mobile": (1, 3601, 61_234, 3_675_061),  # 3601 s at 0.061234 = 3.6750612 -> 3.675061
    }
    assert inv.total == 4_004_979
    assert inv.adjustments_total == -7_500 + 2_345
    assert inv.total_with_adjustments == 4_004_979 - 5_155
    assert inv.reconciles
    assert inv.amount_due == 0  # in credit


def test_json_document_matches_the_contract() -> None:
    doc: dict[str, Any] = build_invoice(small_facts()).to_json()
    contract = {"number", "customer", "from", "to", "currency", "lines", "total"}
    assert contract <= doc.keys()
    assert doc["number"] == "INV-2026-000007"
    assert doc["customer"] == "Acme Telecom GmbH"
    assert (doc["from"], doc["to"]) == ("2026-03-01", "2026-03-31")
    assert doc["currency"] == "EUR"
    assert doc["total"] == "4.004979"
    decimal_string = re.compile(r"^-?\d+(\.\d*[1-9])?$")  # shortest exact: no trailing zeros, no exponent
    for line in doc["lines"]:
        assert {"destination", "calls", "minutes", "amount"} <= line.keys()
        assert isinstance(line["destination"], str)
        assert isinstance(line["calls"], int) and not isinstance(line["calls"], bool)
        assert re.fullmatch(r"\d+\.\d{4}", line["minutes"])
        assert decimal_string.match(line["amount"])
        assert line["rate"] is None or decimal_string.match(line["rate"])
    for key in ("total", "adjustments_total", "total_with_adjustments", "balance_brought_forward", "payments",
                "balance_carried", "amount_due"):
        assert isinstance(doc[key], str) and decimal_string.match(doc[key]), key
    assert doc["lines"][0] == {
        "destination": "France - Mobile", "calls": 2, "minutes": "4.0167", "amount": "0.209268",
        "billed_seconds": 241, "rate": "0.0521",
    }
    assert doc["lines"][1]["rate"] is None
    assert doc["adjustments"][0] == {
        "call_id": "b-998", "start_time": "2026-02-26T00:00:00+01:00", "destination": "Germany - Mobile",
        "old_amount": "0.075", "new_amount": "0.0675", "amount": "-0.0075",
    }
    assert (doc["balance_brought_forward"], doc["payments"], doc["balance_carried"], doc["amount_due"]) == (
        "-12.5", "20", "3.500176", "0")
    json.dumps(doc)  # plain JSON values only


@pytest.mark.parametrize(
    ("carried", "due"),
    [
        (-1_500_000, 1_500_000),  # owes 1.5
        (0, 0),
        (2_000_000, 0),  # in credit: nothing due
    ],
)
def test_amount_due_is_the_negative_carried_balance(carried: int, due: int) -> None:
    inv = build_invoice(small_facts(balance_carried=carried))
    assert inv.amount_due == due
    assert inv.to_json()["amount_due"] == str(due // 1_000_000) + (".5" if due % 1_000_000 else "")


def test_order_of_the_facts_does_not_matter() -> None:
    a = build_invoice(small_facts())
    b = build_invoice(small_facts(calls=tuple(reversed(SMALL_CALLS))))
    assert a.to_json() == b.to_json()
    assert a.to_csv() == b.to_csv()


def test_no_calls() -> None:
    inv = build_invoice(small_facts(calls=(), adjustments=()))
    assert (inv.lines, inv.total, inv.adjustments_total) == ((), 0, 0)
    doc: dict[str, Any] = inv.to_json()
    assert doc["lines"] == [] and doc["total"] == "0"


def test_unknown_time_zone_fails_at_build() -> None:
    facts = small_facts()
    bad = replace(facts, customer=replace(facts.customer, timezone="Mars/Olympus_Mons"))
    with pytest.raises(Exception, match="Mars"):
        build_invoice(bad)


def test_destinations_differing_only_in_case_stay_apart_in_a_fixed_order() -> None:
    c = SMALL_CALLS[0]
    calls = (replace(c, call_id="1", destination="spain"), replace(c, call_id="2", destination="Spain"))
    inv = build_invoice(small_facts(calls=calls))
    assert [line.destination for line in inv.lines] == ["Spain", "spain"]
    assert Counter(line.calls for line in inv.lines) == {1: 2}
