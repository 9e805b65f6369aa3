"""The PDF is a real document: parsed back, it says what the invoice says; same facts, same bytes.

pypdf reads the text back. Where poppler's ``pdftoppm`` is installed, page 1 is also rendered
to PNG and checked to carry ink (the picture was looked at by hand when the layout changed).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from lcr.billing import Invoice, build_invoice
from lcr.model import Customer
from tests.billing.samples import SMALL_CALLS, large_facts, small_facts

REPO = Path(__file__).resolve().parents[2]


def pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


def amount_after(label: str, text: str) -> Decimal:
    """The last number on the line that starts with ``label``."""
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return Decimal(line.split()[-1].replace(",", ""))


@pytest.fixture(scope="module")
def small() -> tuple[Invoice, bytes]:
    inv = build_invoice(small_facts())
    return inv, inv.to_pdf()


@pytest.fixture(scope="module")
def big() -> tuple[Invoice, bytes]:
    inv = build_invoice(large_facts(5_000, 300))
    return inv, inv.to_pdf()


def test_the_small_invoice_reads_back(small: tuple[Invoice, bytes]) -> None:
    inv, pdf = small
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    (text,) = pages(pdf)
    words = flat(text)
    for expected in ("INVOICE", "lcr Demo Carrier Ltd", "INV-2026-000007", "Acme Telecom GmbH", "EUR",
                     "2026-03-01 to 2026-03-31", "Invoice date 2026-04-01", "Page 1 of 1"):
        assert expected in words, expected
    for line in inv.lines:
        assert line.destination in words
    assert amount_after("Total call charges", text) * 10**6 == inv.total == 4_004_979
    assert amount_after("Total adjustments", text) * 10**6 == inv.adjustments_total
    assert amount_after("Payments received", text) * 10**6 == 20_000_000
    assert amount_after("Closing balance", text) * 10**6 == inv.facts.balance_carried
    assert "b-998" in words and "b-999" in words
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert meta is not None and meta.title == "Invoice INV-2026-000007"
    assert meta.creation_date is not None and int(meta.creation_date.timestamp()) == inv.facts.issued_at


def test_a_5000_call_300_destination_invoice_paginates(big: tuple[Invoice, bytes]) -> None:
    inv, pdf = big
    assert len(inv.lines) == 300 and inv.call_count == 5_000
    texts = pages(pdf)
    n = len(texts)
    assert n >= 5
    for i, text in enumerate(texts, 1):
        assert f"Page {i} of {n}" in text
        assert "INV-2026-000007" in text
        if i > 1:
            assert "(continued)" in text  # the running head, and the table heading repeated
    everything = "\n".join(texts)
    found = [line for line in inv.lines if line.destination in flat(everything)]
    assert len(found) == 300
    # Each destination line sits on exactly one page, in order.
    rows = [m.group(1) for m in re.finditer(r"^(.+?) \d[\d,]* [\d,]+\.\d{4} ", everything, re.M)]
    assert rows == [line.destination for line in inv.lines] + ["Total call charges"]
    assert amount_after("Total call charges", everything) * 10**6 == inv.total


def test_thousands_of_destinations_paginate() -> None:
    inv = build_invoice(large_facts(1_500, 1_500, seed=3))
    texts = pages(inv.to_pdf())
    n = len(texts)
    assert n > 25
    assert all(f"Page {i} of {n}" in text for i, text in enumerate(texts, 1))
    everything = "\n".join(texts)
    assert len(re.findall(r"^.+? 1 [\d,]+\.\d{4} ", everything, re.M)) == 1_500  # one row per destination
    assert amount_after("Total call charges", everything) * 10**6 == inv.total


def test_same_facts_same_bytes_in_another_process(small: tuple[Invoice, bytes]) -> None:
    inv, pdf = small
    assert build_invoice(small_facts()).to_pdf() == pdf
    script = (
        "import hashlib, json, sys\n"
        "from lcr.billing import build_invoice\n"
        "from tests.billing.samples import small_facts\n"
        "inv = build_invoice(small_facts())\n"
        "print(json.dumps([hashlib.sha256(x).hexdigest() for x in (inv.to_pdf(), inv.to_csv().encode(),"
        " json.dumps(inv.to_json(), sort_keys=False).encode())]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}, timeout=60)
    here = [hashlib.sha256(x).hexdigest() for x in (pdf, inv.to_csv().encode(), json.dumps(inv.to_json()).encode())]
    assert json.loads(out.stdout) == here


def test_dates_are_the_customers_days() -> None:
    # 2026-04-01T23:30:00Z is already 2 April in Tokyo.
    facts = small_facts(customer=Customer(name="Tokyo Telecom KK", timezone="Asia/Tokyo", currency="JPY"),
                        issued_at=1775086200)
    words = flat("\n".join(pages(build_invoice(facts).to_pdf())))
    assert "Invoice date 2026-04-02" in words
    assert "2026-02-26 08:00:00" in words  # adjustment b-998 started at 2026-02-25T23:00:00Z


def test_an_issuer_read_from_toml_may_hold_lists_and_numbers() -> None:
    issuer = {"name": "Nordic Voice AB", "address": ["Box 1", "111 11 Stockholm"], "registration": 5560001234}
    words = flat(pages(build_invoice(small_facts(issuer=issuer)).to_pdf())[0])
    assert "Nordic Voice AB Box 1 111 11 Stockholm Reg. no.: 5560001234" in words


def test_a_different_invoice_gives_different_bytes(small: tuple[Invoice, bytes]) -> None:
    _, pdf = small
    other = build_invoice(small_facts(calls=SMALL_CALLS[:-1])).to_pdf()
    assert other != pdf


def test_western_text_uses_the_core_font_and_embeds_nothing(small: tuple[Invoice, bytes]) -> None:
    _, pdf = small
    fonts = fonts_of(pdf)
    assert fonts == {"/Helvetica", "/Helvetica-Bold"}
    assert b"/FontFile2" not in pdf


def test_other_scripts_switch_the_document_to_an_embedded_unicode_font(caplog: pytest.LogCaptureFixture) -> None:
    facts = small_facts()
    odd = replace(SMALL_CALLS[0], destination="Côte d’Ivoire – Mobile " + "Orange " * 20)
    cjk = replace(SMALL_CALLS[1], destination="中国 China - Mobile")
    facts = replace(facts, customer=Customer(name="ООО «Связь» / Zürich AG", timezone="Asia/Kolkata", currency="INR"),
                    calls=(odd, cjk, *SMALL_CALLS[2:]),
                    adjustments=(replace(facts.adjustments[0], destination="Ελλάδα - Κινητά"),))
    with caplog.at_level("WARNING"):
        pdf = build_invoice(facts).to_pdf()
    assert not caplog.records  # no glyph is missing: what the font lacks was replaced first
    assert all("DejaVu" in name for name in fonts_of(pdf))
    words = flat("\n".join(pages(pdf)))
    for expected in ("ООО «Связь» / Zürich AG", "Ελλάδα - Κινητά", "?? China - Mobile", "1 Exchange Street",
                     "Côte d’Ivoire – Mobile Orange"):
        assert expected in words, expected
    assert words.count("Orange") == 20  # a long name wraps, it is not cut
    assert build_invoice(facts).to_pdf() == pdf


def fonts_of(pdf: bytes) -> set[str]:
    names: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_page_one_renders_as_an_invoice(small: tuple[Invoice, bytes], tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI") == "true":  # .ci/run installs poppler-utils
            pytest.fail("pdftoppm (poppler-utils) is not installed")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    from PIL import Image

    _, pdf = small
    (tmp_path / "invoice.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", "invoice.pdf", "page"],
                   cwd=tmp_path, check=True, timeout=60)
    with Image.open(tmp_path / "page.png") as image:
        gray = image.convert("L")
        width, height = gray.size
        assert abs(width / height - 210 / 297) < 0.01  # A4 portrait
        hist = gray.histogram()
        inked = sum(hist[:128]) / (width * height)
        assert 0.02 < inked < 0.5  # text and rules, not a blank or black page
