"""Issuing invoices from the store: contract JSON, same document on re-issue, numbering, adjustments."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from pypdf import PdfReader

from lcr.billing import DEMO_ISSUER
from lcr.model import OwnerKind
from lcr.store.cdrs import import_cdr_file
from lcr.store.imports import import_deck, parse_received
from lcr.store.invoices import issue_invoice
from lcr.store.rerate import rerate
from tests.store.helpers import import_size  # noqa: F401  (autouse: small and bulk imports)
from tests.world import load_sample_world

NOV = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
ISSUED = 1_796_000_000  # 2026-12-01, fixed so documents are comparable


def test_invoice_document(engine, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    import_cdr_file(engine, shared_data / "cdrs" / "canonical_cdrs.csv")
    inv = issue_invoice(engine, "globex", *NOV, issuer=DEMO_ISSUER, now=ISSUED)
    doc = inv.to_json()
    assert {"number", "customer", "from", "to", "currency", "lines", "total"} <= set(doc)
    assert (doc["number"], doc["customer"], doc["from"], doc["to"], doc["currency"]) == (
        "INV-2026-000001", "globex", "2026-11-01", "2026-11-30", "USD")
    lines = {ln["destination"]: ln for ln in doc["lines"]}  # type: ignore[union-attr]
    assert (lines["Germany Mobile"]["calls"], lines["Germany Mobile"]["amount"]) == (2, "0.12")
    assert doc["total"] == "0.592933"  # the sum of the period's call charges
    assert "United Kingdom Fixed" not in lines  # the unanswered call (billsec 0) is not invoiced
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(inv.to_pdf())).pages)
    assert "INV-2026-000001" in text and "globex" in text and "0.592933" in text
    assert inv.to_csv().count("\n") >= 5  # every call


def test_reissue_is_the_same_document_and_numbers_follow(engine, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    import_cdr_file(engine, shared_data / "cdrs" / "canonical_cdrs.csv")
    first = issue_invoice(engine, "globex", *NOV, issuer=DEMO_ISSUER, now=ISSUED)
    again = issue_invoice(engine, "globex", *NOV, issuer=DEMO_ISSUER, now=ISSUED + 86_400)
    assert again.to_pdf() == first.to_pdf() and again.to_csv() == first.to_csv()
    december = issue_invoice(engine, "globex", dt.date(2026, 12, 1), dt.date(2026, 12, 31), issuer=DEMO_ISSUER,
                             now=ISSUED)
    assert december.facts.number == "INV-2026-000002" and december.total == 0


def test_rerated_call_is_an_adjustment_on_the_next_invoice(engine, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    import_cdr_file(engine, shared_data / "cdrs" / "canonical_cdrs.csv")
    november = issue_invoice(engine, "globex", *NOV, issuer=DEMO_ISSUER, now=ISSUED)
    fix = tmp_path / "fix.csv"
    fix.write_text("prefix,destination,rate,effective_date,first_interval,next_interval\n"
                   "4915,Germany Mobile,0.07,2026-11-01,60,1\n")
    import_deck(engine, fix, kind=OwnerKind.CUSTOMER, owner="globex", mode="delta",
                received=parse_received("2026-11-01"))
    rerate(engine, parse_received("2026-11-01"), parse_received("2026-12-01"))
    # the issued November invoice does not change
    assert issue_invoice(engine, "globex", *NOV, issuer=DEMO_ISSUER).to_json() == november.to_json()
    december = issue_invoice(engine, "globex", dt.date(2026, 12, 1), dt.date(2026, 12, 31), issuer=DEMO_ISSUER,
                             now=ISSUED)
    assert december.adjustments_total == 20_000 and len(december.adjustments) == 2
    january = issue_invoice(engine, "globex", dt.date(2027, 1, 1), dt.date(2027, 1, 31), issuer=DEMO_ISSUER,
                            now=ISSUED)
    assert january.adjustments == ()  # adjusted once, not again
