"""The invoice as a PDF a customer files: letterhead, summary, destination lines, adjustments.

Drawn with fpdf2. Text is Helvetica (a core font, nothing embedded) when everything on the
invoice is in cp1252 (Western European); otherwise the whole document uses DejaVu Sans,
embedded as a subset from ``fonts/`` (Latin, Greek, Cyrillic and more; no CJK, and no shaping
for right-to-left scripts). A character the font cannot draw is printed as ``?``. Either way
the text extracts.
Every page break is ours: the destination and adjustment tables repeat their heading on each
page, pages after the first carry a running head, every page a foot with "Page N of M".

Deterministic: the PDF's creation date is ``issued_at``, its /ID is a hash of its content,
nothing depends on the clock, the machine or dict order, so re-issuing the same facts gives
the same bytes (with the same fpdf2 version).

Money is printed exactly: each money column uses the decimals its most precise value needs
(at least 2; rates at least 4), never rounding an amount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.fonts import TTFFont

from lcr.billing.figures import (
    column_decimals,
    grouped,
    latin_text,
    local_time,
    minutes_text,
    shown,
    signed,
    zone,
)

if TYPE_CHECKING:
    from lcr.billing.invoice import Invoice

# Page geometry, millimetres (A4 portrait).
LEFT, RIGHT, TOP = 15.0, 195.0, 14.0
WIDTH = RIGHT - LEFT
BOTTOM = 279.0  # content stops here; the foot is below
CORE_FONT, CORE_ENCODING = "Helvetica", "cp1252"
UNICODE_FONT = "DejaVu"
FONTS = Path(__file__).with_name("fonts")
UNICODE_FILES = {"": FONTS / "DejaVuSans.ttf", "B": FONTS / "DejaVuSans-Bold.ttf"}

INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 58, 96)
HEAD_FILL = ACCENT
ZEBRA = (243, 245, 248)
BOX_FILL = (236, 241, 247)
RULE = (200, 205, 212)

_LETTERHEAD_KEYS = ("tax_id", "registration", "email", "phone", "website")
_FOOT_KEYS = ("payment_terms", "bank", "note")
_LABELS = {"tax_id": "Tax ID", "registration": "Reg. no.", "email": "Email", "phone": "Phone", "website": "Web",
           "payment_terms": "Terms", "bank": "Bank", "note": "Note"}


_ONE_LINE = {c: " " for c in (*range(32), 127)}


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: float
    align: str = "L"  # "L" text (wraps), "R" numbers (shrinks to fit, never wraps)


class _Document(FPDF):
    """fpdf2 with our running head and foot."""

    def __init__(self, unicode: bool) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.core_fonts_encoding = CORE_ENCODING
        self.text_family = CORE_FONT
        if unicode:
            for style, path in UNICODE_FILES.items():
                self.add_font(UNICODE_FONT, style, path)
            self.text_family = UNICODE_FONT
        self.running_head = ("", "")
        self.foot = ""
        self.alias_nb_pages("{lcr:pages}")  # not "{nb}", which a customer's name could hold
        self.set_margins(LEFT, TOP, 210 - RIGHT)
        self.set_auto_page_break(False)
        self.c_margin = 1.6

    def header(self) -> None:
        if self.page_no() == 1:
            return
        left, right = self.running_head
        self.set_text_color(*MUTED)
        self.set_font(self.text_family, "B", 8.5)
        self.fitted_cell(LEFT, TOP - 4, WIDTH * 0.4, 5, left)
        self.set_font(self.text_family, "", 8.5)
        self.fitted_cell(LEFT + WIDTH * 0.4, TOP - 4, WIDTH * 0.6, 5, right, align="R")
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(LEFT, TOP + 1.5, RIGHT, TOP + 1.5)
        self.set_xy(LEFT, TOP + 5)

    def footer(self) -> None:
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(LEFT, 284, RIGHT, 284)
        self.set_text_color(*MUTED)
        self.set_font(self.text_family, "", 7.5)
        self.fitted_cell(LEFT, 285, WIDTH * 0.8, 4.5, self.foot)
        page = f"Page {self.page_no()} of {self.str_alias_nb_pages}"
        self.fitted_cell(LEFT + WIDTH * 0.8, 285, WIDTH * 0.2, 4.5, page, align="R")

    def fitted_cell(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        """A one-line cell whose font shrinks (down to 4 pt) until the text fits; the size is restored."""
        size = self.font_size_pt
        while self.font_size_pt > 4 and self.get_string_width(text) > w - 2 * self.c_margin:
            self.set_font_size(self.font_size_pt - 0.5)
        self.set_xy(x, y)
        self.cell(w, h, text, align=align)
        self.set_font_size(size)


class _Writer:
    """Draws one invoice onto a _Document."""

    def __init__(self, invoice: Invoice) -> None:
        self.inv = invoice
        f = invoice.facts
        self.f = f
        self.unicode = not all(_core_font_draws(text) for text in _texts(invoice))
        self.pdf = _Document(unicode=self.unicode)
        faces = [set(font.cmap) for font in self.pdf.fonts.values() if isinstance(font, TTFFont)]
        self.glyphs: set[int] = set.intersection(*faces) if faces else set()  # what every face can draw
        self.tz = zone(f.customer.timezone)
        self.cur = self.t(f.customer.currency)
        self.issuer = {str(k): "\n".join(self.t(line) for line in _lines(v)) for k, v in f.issuer.items() if v}
        amounts = [line.amount for line in invoice.lines]
        amounts += [v for a in invoice.adjustments for v in (a.old_amount, a.new_amount, a.amount)]
        amounts += [invoice.total, invoice.adjustments_total, f.balance_brought_forward, f.payments,
                    f.balance_carried]
        self.dp = column_decimals(amounts, at_least=2)
        self.rate_dp = column_decimals([line.rate for line in invoice.lines if line.rate is not None], at_least=4)
        number = self.t(f.number)
        customer = self.t(f.customer.name)
        seller = self.issuer.get("name", "")
        pdf = self.pdf
        pdf.running_head = (seller or f"Invoice {number}", f"Invoice {number} - {customer} (continued)")
        pdf.foot = (f"Invoice {number}  |  {customer}  |  {f.period_from.isoformat()} to {f.period_to.isoformat()}"
                    f"  |  amounts in {self.cur}")
        pdf.set_creation_date(dt.datetime.fromtimestamp(f.issued_at, dt.UTC))
        pdf.set_producer("lcr billing (fpdf2)")
        pdf.set_creator("lcr")
        pdf.set_title(f"Invoice {number}")
        pdf.set_subject(f"Invoice {number} for {customer}, {f.period_from.isoformat()} to {f.period_to.isoformat()}")
        if seller:
            pdf.set_author(seller)
        pdf.set_lang("en")

    # -- small drawing helpers ------------------------------------------------------------

    def t(self, text: str) -> str:
        """Text as the document's font can draw it, on one line (control characters become spaces)."""
        text = text.translate(_ONE_LINE)
        if not self.unicode:
            return latin_text(text, CORE_ENCODING)
        if all(ord(ch) in self.glyphs for ch in text):
            return text
        return "".join(ch if ord(ch) in self.glyphs else "?" for ch in text)

    def font(self, size: float, style: str = "", color: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(self.pdf.text_family, style, size)
        self.pdf.set_text_color(*color)

    def text_at(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        """One line of text in the box ``(x, y, w, h)``, placed as ``FPDF.cell`` would, at a tenth of its cost."""
        pdf = self.pdf
        if align == "R":
            x += w - pdf.c_margin - self.width(text)
        elif align == "C":
            x += (w - self.width(text)) / 2
        else:
            x += pdf.c_margin
        pdf.text(x, y + 0.5 * h + 0.3 * pdf.font_size, text)

    def width(self, text: str) -> float:
        """``FPDF.get_string_width`` without its markdown and bidi passes (we use neither)."""
        pdf = self.pdf
        assert pdf.current_font is not None
        return pdf.current_font.get_text_width(pdf.normalize_text(text), pdf.font_size_pt, None)[1] / pdf.k

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap to ``width`` mm in the current font; over-long words are cut."""
        pdf = self.pdf
        room = width - 2 * pdf.c_margin
        if self.width(text) <= room:
            return [text]
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if self.width(candidate) <= room:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while self.width(word) > room and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and self.width(word[:cut]) > room:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
        return lines

    def fit(self, text: str, width: float, size: float) -> float:
        """The largest font size up to ``size`` at which ``text`` fits on one line of ``width``."""
        pdf = self.pdf
        room = width - 2 * pdf.c_margin
        while size > 5 and self.width(text) > room:
            size -= 0.5
            pdf.set_font_size(size)
        return size

    def ensure(self, height: float) -> bool:
        """Start a new page unless ``height`` mm still fit on this one; True if a page was added."""
        if self.pdf.get_y() + height <= BOTTOM:
            return False
        self.pdf.add_page()
        return True

    def money(self, micro: int) -> str:
        return shown(micro, self.dp)

    # -- the parts ------------------------------------------------------------------------

    def letterhead(self) -> None:
        pdf, f = self.pdf, self.f
        y = TOP
        name = self.issuer.get("name")
        if name:
            self.font(15, "B", ACCENT)
            for line in self.wrap(name, 100):
                self.text_at(LEFT, y, 100, 7, line)
                y += 7
        self.font(8.5, "", MUTED)
        for line in self.issuer.get("address", "").split("\n"):
            if line.strip():
                self.text_at(LEFT, y, 100, 4.2, line.strip())
                y += 4.2
        extra = sorted(k for k in self.issuer if k not in ("name", "address", *_LETTERHEAD_KEYS, *_FOOT_KEYS))
        for key in (*(k for k in _LETTERHEAD_KEYS if k in self.issuer), *extra):
            label = _LABELS.get(key, key.replace("_", " ").capitalize())
            for line in self.wrap(f"{label}: {self.issuer[key]}", 100):
                self.text_at(LEFT, y, 100, 4.2, line)
                y += 4.2

        # Right: the title and the invoice's identity.
        x, w = 120.0, RIGHT - 120.0
        ry = TOP - 1
        self.font(24, "B", ACCENT)
        self.text_at(x, ry, w, 10, "INVOICE", "R")
        ry += 12
        issued = local_time(f.issued_at, self.tz).date()
        rows = [
            ("Invoice number", self.t(f.number)),
            ("Invoice date", issued.isoformat()),
            ("Billing period", f"{f.period_from.isoformat()} to {f.period_to.isoformat()}"),
            ("Currency", self.cur),
        ]
        for label, value in rows:
            self.font(8.5, "", MUTED)
            self.text_at(x, ry, 28, 5, label)
            self.font(9, "B")
            size = self.fit(value, w - 28, 9)
            self.text_at(x + 28, ry, w - 28, 5, value, "R")
            if size != 9:
                pdf.set_font_size(9)
            ry += 5
        y = max(y, ry) + 4
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.6)
        pdf.line(LEFT, y, RIGHT, y)
        pdf.set_y(y + 5)

    def parties(self) -> None:
        """Bill-to on the left, the amount due on the right."""
        pdf, f, inv = self.pdf, self.f, self.inv
        y0 = pdf.get_y()
        y = y0
        self.font(7.5, "B", MUTED)
        self.text_at(LEFT, y, 90, 4, "BILL TO")
        y += 4.5
        self.font(12, "B")
        for line in self.wrap(self.t(f.customer.name), 95):
            self.text_at(LEFT, y, 95, 6, line)
            y += 6
        self.font(8.5, "", MUTED)
        self.text_at(LEFT, y, 95, 4.2, f"Account time zone: {self.t(f.customer.timezone)}")
        y += 4.2
        kind = "prepaid" if f.customer.prepaid else "postpaid"
        self.text_at(LEFT, y, 95, 4.2, f"Account type: {kind}, billed in {self.cur}")
        y += 4.2

        # The amount due box.
        x, w, h = 120.0, RIGHT - 120.0, 20.0
        pdf.set_fill_color(*BOX_FILL)
        pdf.rect(x, y0, w, h, style="F")
        pdf.set_fill_color(*ACCENT)
        pdf.rect(x, y0, 1.2, h, style="F")
        due = inv.amount_due
        self.font(8, "B", MUTED)
        if due > 0 or f.balance_carried == 0:
            self.text_at(x + 3, y0 + 2, w - 5, 4.5, "AMOUNT DUE")
            value = f"{self.cur} {self.money(due)}"
        else:
            self.text_at(x + 3, y0 + 2, w - 5, 4.5, "ACCOUNT IN CREDIT - NOTHING DUE")
            value = f"{self.cur} {self.money(f.balance_carried)} credit"
        self.font(16, "B", ACCENT)
        self.fit(value, w - 5, 16)
        self.text_at(x + 3, y0 + 7, w - 5, 8, value, "R")
        self.font(7.5, "", MUTED)
        self.text_at(x + 3, y0 + 14.5, w - 5, 4, f"Balance after {f.period_to.isoformat()}", "R")
        pdf.set_y(max(y, y0 + h) + 6)

    def summary(self) -> None:
        """This invoice's charges (left) and the account statement (right)."""
        pdf, f, inv = self.pdf, self.f, self.inv
        y0 = pdf.get_y()
        other = f.balance_carried - (f.balance_brought_forward + f.payments - inv.total_with_adjustments)
        left = [
            ("Calls", grouped(str(inv.call_count)), ""),
            ("Billed minutes", grouped(minutes_text(inv.billed_seconds)), ""),
            ("Call charges", self.money(inv.total), ""),
            (_adjustments_label(len(inv.adjustments)), self.money(inv.adjustments_total), ""),
            (f"Total this invoice ({self.cur})", self.money(inv.total_with_adjustments), "B"),
        ]
        right = [
            (f"Opening balance, {f.period_from.isoformat()}", signed(f.balance_brought_forward, self.dp), ""),
            ("Payments received", signed(f.payments, self.dp), ""),
            ("Call charges", signed(-inv.total, self.dp), ""),
            ("Adjustments", signed(-inv.adjustments_total, self.dp), ""),
        ]
        if other:
            right.append(("Other account movements", signed(other, self.dp), ""))
        right.append((f"Closing balance, {f.period_to.isoformat()}", signed(f.balance_carried, self.dp), "B"))
        hl = self.box(LEFT, y0, 85, "INVOICE SUMMARY", left)
        hr = self.box(110, y0, RIGHT - 110, f"ACCOUNT STATEMENT ({self.cur})", right)
        self.font(6.8, "", MUTED)
        note = "Balance = payments - charges; a negative balance is owed."
        self.text_at(110, y0 + hr + 0.5, RIGHT - 110, 3.5, note, "R")
        pdf.set_y(y0 + max(hl, hr + 4) + 7)

    def box(self, x: float, y: float, w: float, title: str, rows: Sequence[tuple[str, str, str]]) -> float:
        """A titled label/value box; returns its height."""
        pdf = self.pdf
        self.font(7.5, "B", MUTED)
        self.text_at(x, y, w, 4.5, title)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        pdf.line(x, y + 5, x + w, y + 5)
        ry = y + 6
        value_w = 30.0
        for label, value, style in rows:
            if style == "B":
                pdf.set_draw_color(*INK)
                pdf.line(x + w - value_w, ry + 0.3, x + w, ry + 0.3)
                ry += 0.8
            self.font(8.5, style)
            self.fit(label, w - value_w, 8.5)
            self.text_at(x, ry, w - value_w, 5, label)
            self.font(8.5, style)
            self.fit(value, value_w, 8.5)
            self.text_at(x + w - value_w, ry, value_w, 5, value, "R")
            ry += 5
        return ry - y

    def table(self, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
              total: Sequence[str] | None, size: float = 8.5) -> None:
        pdf = self.pdf
        lh = size * 0.46  # line height, mm
        pad = 1.1

        def heading(cont: bool) -> None:
            self.font(10.5, "B", ACCENT)
            self.text_at(LEFT, pdf.get_y(), WIDTH, 6, title + (" (continued)" if cont else ""))
            pdf.set_y(pdf.get_y() + 7)
            y = pdf.get_y()
            pdf.set_fill_color(*HEAD_FILL)
            pdf.rect(LEFT, y, WIDTH, lh + 2 * pad + 0.6, style="F")
            self.font(size - 0.5, "B", (255, 255, 255))
            x = LEFT
            for col in columns:
                self.fit(col.title, col.width, size - 0.5)
                self.text_at(x, y + pad + 0.3, col.width, lh, col.title, col.align)
                pdf.set_font_size(size - 0.5)
                x += col.width
            pdf.set_y(y + lh + 2 * pad + 0.6)

        self.ensure(7 + 3 * (lh + 2 * pad))
        heading(False)
        for n, row in enumerate(rows):
            self.font(size)
            cells = [self.wrap(text, col.width) if col.align == "L" else [text] for col, text in zip(columns, row,
                                                                                                      strict=True)]
            h = max(len(c) for c in cells) * lh + 2 * pad
            if self.ensure(h + (lh + 2 * pad if n == len(rows) - 1 and total else 0)):
                heading(True)
            y = pdf.get_y()
            if n % 2:
                pdf.set_fill_color(*ZEBRA)
                pdf.rect(LEFT, y, WIDTH, h, style="F")
            self.row(columns, cells, y + pad, lh, size)
            pdf.set_y(y + h)
        if total is not None:
            if self.ensure(lh + 2 * pad + 1):
                heading(True)
            y = pdf.get_y()
            pdf.set_draw_color(*INK)
            pdf.set_line_width(0.4)
            pdf.line(LEFT, y, RIGHT, y)
            self.font(size, "B")
            self.row(columns, [[t] for t in total], y + pad + 0.3, lh, size, style="B")
            pdf.set_y(y + lh + 2 * pad + 1)
        pdf.set_y(pdf.get_y() + 6)

    def row(self, columns: Sequence[Column], cells: Sequence[list[str]], y: float, lh: float, size: float,
            style: str = "") -> None:
        x = LEFT
        for col, lines in zip(columns, cells, strict=True):
            for i, line in enumerate(lines):
                self.font(size, style)
                if col.align == "R":
                    self.fit(line, col.width, size)
                self.text_at(x, y + i * lh, col.width, lh, line, col.align)
            x += col.width

    def destination_lines(self) -> None:
        inv = self.inv
        columns = (Column("Destination", 78), Column("Calls", 18, "R"), Column("Minutes", 28, "R"),
                   Column(f"Rate / min ({self.cur})", 27, "R"), Column(f"Amount ({self.cur})", 29, "R"))
        rows = [
            (self.t(line.destination), grouped(str(line.calls)), grouped(minutes_text(line.billed_seconds)),
             "various" if line.rate is None else shown(line.rate, self.rate_dp), self.money(line.amount))
            for line in inv.lines
        ]
        if not rows:
            rows = [("No calls in this period", "0", "0.0000", "", self.money(0))]
        total = ("Total call charges", grouped(str(inv.call_count)), grouped(minutes_text(inv.billed_seconds)), "",
                 self.money(inv.total))
        self.table("Charges by destination", columns, rows, total)

    def adjustments(self) -> None:
        inv = self.inv
        if not inv.adjustments:
            return
        columns = (Column("Call ID", 40), Column("Call start", 31), Column("Destination", 43),
                   Column("Invoiced", 22, "R"), Column("Re-rated", 22, "R"), Column("Difference", 22, "R"))
        rows = [
            (self.t(a.call_id), local_time(a.start_time, self.tz).strftime("%Y-%m-%d %H:%M:%S"),
             self.t(a.destination), self.money(a.old_amount), self.money(a.new_amount), self.money(a.amount))
            for a in inv.adjustments
        ]
        total = ("Total adjustments", "", "", "", "", self.money(inv.adjustments_total))
        self.table("Adjustments to calls invoiced earlier", columns, rows, total, size=8)

    def closing(self) -> None:
        pdf, f, inv = self.pdf, self.f, self.inv
        totals = [("Call charges", self.money(inv.total), ""),
                  ("Adjustments", self.money(inv.adjustments_total), ""),
                  (f"Total this invoice ({self.cur})", self.money(inv.total_with_adjustments), "B")]
        self.ensure(24)
        y = pdf.get_y()
        h = self.box(110, y, RIGHT - 110, "TOTALS", totals)
        pdf.set_y(y + h + 6)
        notes = [
            f"All amounts are in {self.cur}. Call times are in {self.t(f.customer.timezone)}; the period "
            f"{f.period_from.isoformat()} to {f.period_to.isoformat()} includes both days.",
            "Minutes are billed seconds / 60, rounded to 4 decimals per line; each call is rated "
            "separately and amounts are the exact sums of the rated calls.",
        ]
        notes += [f"{_LABELS[k]}: {self.issuer[k]}" for k in _FOOT_KEYS if k in self.issuer]
        self.font(7.8, "", MUTED)
        for note in notes:
            lines = self.wrap(note, WIDTH)
            self.ensure(len(lines) * 3.8)
            for line in lines:
                self.text_at(LEFT, pdf.get_y(), WIDTH, 3.8, line)
                pdf.set_y(pdf.get_y() + 3.8)
            pdf.set_y(pdf.get_y() + 1)

    def render(self) -> bytes:
        self.pdf.add_page()
        self.letterhead()
        self.parties()
        self.summary()
        self.destination_lines()
        self.adjustments()
        self.closing()
        return bytes(self.pdf.output())


def _texts(invoice: Invoice) -> Iterator[str]:
    f = invoice.facts
    yield from (f.number, f.customer.name, f.customer.currency, f.customer.timezone)
    yield from (line for value in f.issuer.values() for line in _lines(value))
    yield from (line.destination for line in invoice.lines)
    for a in invoice.adjustments:
        yield a.call_id
        yield a.destination


def _lines(value: object) -> list[str]:
    """An issuer value as lines: ``"a\\nb"`` or, from a TOML file, ``["a", "b"]`` (other values as text)."""
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value).split("\n")


def _core_font_draws(text: str) -> bool:
    try:
        text.encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _adjustments_label(n: int) -> str:
    if n == 0:
        return "Adjustments"
    return f"Adjustments ({n} earlier call{'s' if n > 1 else ''} re-rated)"


def invoice_pdf(invoice: Invoice) -> bytes:
    return _Writer(invoice).render()
