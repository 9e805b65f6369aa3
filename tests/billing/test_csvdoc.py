"""The call detail CSV: one row per call, then adjustments, then the totals; times in the customer's zone."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings

from lcr.billing import InvoiceCall, build_invoice
from lcr.billing.csvdoc import COLUMNS
from tests.billing.samples import SMALL_CALLS, small_facts
from tests.billing.test_invoice import calls_strategy


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_row_per_call_then_adjustments_then_totals() -> None:
    text = build_invoice(small_facts()).to_csv()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    got = rows(text)
    kinds = [r["record"] for r in got]
    assert kinds == ["call"] * 7 + ["adjustment"] * 2 + ["adjustments_total", "total"]
    assert [r["call_id"] for r in got[:7]] == [c.call_id for c in SMALL_CALLS]  # by start time
    assert got[0] == {
        "call_id": "c-001", "start_time": "2026-03-01T01:00:00+01:00", "dst": "4915112345678",
        "destination": "Germany - Mobile", "prefix": "49151", "billsec": "95", "billed_seconds": "95",
        "rate": "0.045", "amount": "0.07125", "record": "call", "old_amount": "", "new_amount": "",
    }
    assert got[7] == {
        "call_id": "b-998", "start_time": "2026-02-26T00:00:00+01:00", "dst": "", "destination": "Germany - Mobile",
        "prefix": "", "billsec": "", "billed_seconds": "", "rate": "", "amount": "-0.0075", "record": "adjustment",
        "old_amount": "0.075", "new_amount": "0.0675",
    }
    assert got[-2]["amount"] == "-0.005155"
    assert (got[-1]["amount"], got[-1]["billed_seconds"], got[-1]["billsec"]) == ("4.004979", "4147", "4035")
    assert text.endswith("\r\n") and text.count("\n") == text.count("\r\n") == 12  # RFC 4180 line ends


def test_without_adjustments_there_is_no_adjustments_total_row() -> None:
    got = rows(build_invoice(small_facts(adjustments=())).to_csv())
    assert [r["record"] for r in got] == ["call"] * 7 + ["total"]


@settings(max_examples=40, deadline=None)
@given(calls_strategy)
def test_call_rows_add_up_to_the_total(calls: list[InvoiceCall]) -> None:
    inv = build_invoice(small_facts(calls=tuple(calls)))
    got = rows(inv.to_csv())
    call_rows = [r for r in got if r["record"] == "call"]
    assert len(call_rows) == len(calls)
    assert len(got) == len(calls) + len(inv.adjustments) + (1 if inv.adjustments else 0) + 1
    assert sum(Decimal(r["amount"]) for r in call_rows) == Decimal(got[-1]["amount"]) == Decimal(inv.total) / 10**6


def test_start_times_carry_the_zone_offset_of_their_day() -> None:
    # Europe/Berlin moves to summer time at 2026-03-29T01:00:00Z.
    c = SMALL_CALLS[0]
    calls = (replace(c, call_id="before", start_time=1774745999), replace(c, call_id="after", start_time=1774746000))
    got = rows(build_invoice(small_facts(calls=calls)).to_csv())
    assert [r["start_time"] for r in got[:2]] == ["2026-03-29T01:59:59+01:00", "2026-03-29T03:00:00+02:00"]


def test_text_a_spreadsheet_would_run_is_defused() -> None:
    c = SMALL_CALLS[0]
    calls = (replace(c, call_id="@SUM(A1)", destination='=HYPERLINK("http://x")', dst="+4915112345678"),)
    got = rows(build_invoice(small_facts(calls=calls)).to_csv())
    assert got[0]["call_id"] == "'@SUM(A1)"
    assert got[0]["destination"] == "'=HYPERLINK(\"http://x\")"
    assert got[0]["dst"] == "+4915112345678"  # a number with a sign is data, not a formula
