"""An invoice: the facts grouped into destination lines and totals, and its three documents.

``build_invoice(facts)`` decides everything once (lines, totals, order); ``to_json``,
``to_csv`` and ``to_pdf`` only write it out, so the same facts always give the same bytes.

Order rules: lines by destination name (case-folded, then as written, so ``'Spain'`` and
``'spain'`` stay two lines in a fixed order); calls and adjustments by start time, then call id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lcr.billing.facts import Adjustment, InvoiceCall, InvoiceFacts
from lcr.billing.figures import local_iso, minutes, minutes_text, money, utc_iso, zone


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """The period's calls to one destination."""

    destination: str
    calls: int
    billed_seconds: int
    rate: int | None  # micro-units per minute; None when the line's calls had different rates
    amount: int  # micro-units, the exact sum of the calls' amounts

    @property
    def minutes(self) -> Decimal:
        """Billed seconds / 60, rounded half-up to 4 decimals (from the line's total seconds)."""
        return minutes(self.billed_seconds)


def destination_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def call_key(c: InvoiceCall | Adjustment) -> tuple[int, str]:
    return (c.start_time, c.call_id)


@dataclass(frozen=True)
class Invoice:
    facts: InvoiceFacts
    lines: tuple[InvoiceLine, ...]
    total: int  # the period's call charges (adjustments not included)
    adjustments_total: int
    calls: tuple[InvoiceCall, ...]  # the facts' calls in document order
    adjustments: tuple[Adjustment, ...]  # the facts' adjustments in document order

    @property
    def call_count(self) -> int:
        return len(self.calls)

    @property
    def billed_seconds(self) -> int:
        return sum(line.billed_seconds for line in self.lines)

    @property
    def total_with_adjustments(self) -> int:
        """What this invoice charges: the period's calls plus the adjustments to earlier calls."""
        return self.total + self.adjustments_total

    @property
    def amount_due(self) -> int:
        """What the customer owes after the period: the carried balance when negative, else 0."""
        return max(0, -self.facts.balance_carried)

    @property
    def reconciles(self) -> bool:
        """Whether brought forward + payments - charges - adjustments == carried."""
        f = self.facts
        return f.balance_brought_forward + f.payments - self.total_with_adjustments == f.balance_carried

    def to_json(self) -> dict[str, object]:
        """The contract's ``lcr invoice --format json`` document, plus extra keys (amounts as strings)."""
        f = self.facts
        tz = zone(f.customer.timezone)
        return {
            "number": f.number,
            "customer": f.customer.name,
            "from": f.period_from.isoformat(),
            "to": f.period_to.isoformat(),
            "currency": f.customer.currency,
            "lines": [
                {
                    "destination": line.destination,
                    "calls": line.calls,
                    "minutes": minutes_text(line.billed_seconds),
                    "amount": money(line.amount),
                    "billed_seconds": line.billed_seconds,
                    "rate": None if line.rate is None else money(line.rate),
                }
                for line in self.lines
            ],
            "total": money(self.total),
            "timezone": f.customer.timezone,
            "issued_at": utc_iso(f.issued_at),
            "calls": self.call_count,
            "billed_seconds": self.billed_seconds,
            "minutes": minutes_text(self.billed_seconds),
            "adjustments": [
                {
                    "call_id": a.call_id,
                    "start_time": local_iso(a.start_time, tz),
                    "destination": a.destination,
                    "old_amount": money(a.old_amount),
                    "new_amount": money(a.new_amount),
                    "amount": money(a.amount),
                }
                for a in self.adjustments
            ],
            "adjustments_total": money(self.adjustments_total),
            "total_with_adjustments": money(self.total_with_adjustments),
            "balance_brought_forward": money(f.balance_brought_forward),
            "payments": money(f.payments),
            "balance_carried": money(f.balance_carried),
            "amount_due": money(self.amount_due),
        }

    def to_csv(self) -> str:
        """Every call, then every adjustment, then totals; see ``lcr.billing.csvdoc``."""
        from lcr.billing.csvdoc import invoice_csv

        return invoice_csv(self)

    def to_pdf(self) -> bytes:
        """The customer's document; the same facts give the same bytes. See ``lcr.billing.pdfdoc``."""
        from lcr.billing.pdfdoc import invoice_pdf

        return invoice_pdf(self)


def build_invoice(facts: InvoiceFacts) -> Invoice:
    """Group the period's calls by destination and add them up, exactly (integer micro-units)."""
    zone(facts.customer.timezone)  # an unknown zone fails here, not halfway through a document
    groups: dict[str, list[InvoiceCall]] = {}
    for call in facts.calls:
        groups.setdefault(call.destination, []).append(call)
    lines = []
    for name in sorted(groups, key=destination_key):
        calls = groups[name]
        rates = {c.rate for c in calls}
        lines.append(InvoiceLine(
            destination=name,
            calls=len(calls),
            billed_seconds=sum(c.billed_seconds for c in calls),
            rate=rates.pop() if len(rates) == 1 else None,
            amount=sum(c.amount for c in calls),
        ))
    return Invoice(
        facts=facts,
        lines=tuple(lines),
        total=sum(c.amount for c in facts.calls),
        adjustments_total=sum(a.amount for a in facts.adjustments),
        calls=tuple(sorted(facts.calls, key=call_key)),
        adjustments=tuple(sorted(facts.adjustments, key=call_key)),
    )
