"""What the store hands the billing package: the facts of one invoice, already decided.

Which calls, payments and balances belong on an invoice, and its number, are the store's
business; these values only carry them. Money is integer micro-units, instants are integer
epoch seconds (UTC), periods are days in the customer's time zone, both ends included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from lcr.model import Customer


@dataclass(frozen=True, slots=True)
class InvoiceCall:
    """One rated call of the period, sell side."""

    call_id: str
    start_time: int  # epoch seconds, UTC
    dst: str
    destination: str
    prefix: str
    billsec: int
    billed_seconds: int
    rate: int  # micro-units per minute
    amount: int  # micro-units


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A call re-rated after it was invoiced; the difference goes on the next invoice."""

    call_id: str
    start_time: int  # the call's start, epoch seconds UTC
    destination: str
    old_amount: int  # micro-units, as invoiced before
    new_amount: int  # micro-units, as re-rated

    @property
    def amount(self) -> int:
        """What this invoice charges for it: ``new_amount - old_amount`` (negative = a credit)."""
        return self.new_amount - self.old_amount


@dataclass(frozen=True)
class InvoiceFacts:
    """Everything one invoice document says, as the store decided it.

    The balances follow the ledger's sign (``payments - charges``: negative means the customer
    owes). A consistent store gives ``balance_carried == balance_brought_forward + payments -
    total - adjustments_total`` (see ``Invoice.reconciles``).

    ``issuer`` is the letterhead: ``name``, ``address`` (lines separated by ``\\n``), ``tax_id``,
    ``registration``, ``email``, ``phone``, ``website``, and for the foot of the invoice
    ``payment_terms``, ``bank``, ``note``; other keys are printed under the letterhead as
    ``Key: value``, sorted by key.
    """

    number: str
    customer: Customer
    period_from: date
    period_to: date
    issued_at: int  # epoch seconds
    calls: tuple[InvoiceCall, ...]
    adjustments: tuple[Adjustment, ...]
    balance_brought_forward: int
    payments: int
    balance_carried: int
    issuer: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


DEMO_ISSUER: Mapping[str, str] = MappingProxyType({
    "name": "lcr Demo Carrier Ltd",
    "address": "1 Exchange Street\nLondon EC1A 1AA\nUnited Kingdom",
    "tax_id": "GB 000 0000 00 (demo)",
    "email": "billing@example.net",
    "payment_terms": "Payment due within 15 days of the invoice date.",
    "bank": "Demo Bank plc, IBAN GB00 DEMO 0000 0000 0000 00, BIC DEMOGB2L",
})
"""Letterhead for the demo and the tests: example values, not a real company."""
