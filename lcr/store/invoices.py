"""Issuing invoices: which calls, adjustments, payments and balances go on one, and its number.

- The period is ``--from``..``--to``, days in the customer's time zone, both included; a call
  belongs to the period of its ``start_time``. Rated calls with talk time (``billsec > 0``) that
  no earlier invoice holds go on it.
- Numbers are ``INV-YYYY-NNNNNN``, sequential per year of issue.
- The issued facts are stored (``invoices.document``): issuing the same customer and period again
  returns the same document, byte for byte, even if calls were re-rated since.
- A call re-rated after it was invoiced appears on the customer's *next* invoice as an adjustment
  (new amount - invoiced amount); it is then marked as invoiced at its new amount.
- Balances are a statement view from the ledger: brought forward = ledger entries before the
  period's start; payments = payments recorded during the period; carried = brought forward +
  payments - calls total - adjustments.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select, update

from lcr.billing import Adjustment, Invoice, InvoiceCall, InvoiceFacts, build_invoice
from lcr.errors import InputError
from lcr.model import Customer
from lcr.store.db import writing
from lcr.store.ledger import payments_between
from lcr.store.parties import list_customers
from lcr.store.schema import cdrs, customers, either_index, invoices, ledger


def local_period(customer: Customer, first: dt.date, last: dt.date) -> tuple[int, int]:
    """[start, end) in epoch seconds of the days ``first``..``last`` in the customer's time zone."""
    tz = ZoneInfo(customer.timezone)
    start = dt.datetime.combine(first, dt.time(), tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def issue_invoice(engine: Engine, name: str, first: dt.date, last: dt.date, *, issuer: Mapping[str, str],
                  now: int | None = None) -> Invoice:
    if last < first:
        raise InputError(f"--to {last} is before --from {first}")
    with writing(engine) as conn:
        customer = next((c for c in list_customers(conn) if c.name == name), None)
        if customer is None:
            from lcr.errors import NotFound

            raise NotFound(f"no customer named {name!r}")
        cid = int(conn.execute(select(customers.c.id).where(customers.c.name == name)).scalar_one())
        stored = conn.execute(select(invoices.c.document).where(
            invoices.c.customer_id == cid, invoices.c.period_from == first.isoformat(),
            invoices.c.period_to == last.isoformat())).scalar()
        if stored is not None:
            return build_invoice(_facts_from_json(json.loads(stored), customer))
        facts, rows = _gather(conn, customer, cid, first, last, issuer, int(time.time()) if now is None else now)
        invoice = build_invoice(facts)
        invoice_id = _store(conn, cid, facts, invoice)
        _mark(conn, invoice_id, rows)
    return invoice


def _gather(conn: Connection, customer: Customer, cid: int, first: dt.date, last: dt.date,
            issuer: Mapping[str, str], now: int) -> tuple[InvoiceFacts, list[int]]:
    """The invoice's facts, and the ``cdrs`` ids of its calls and adjustments (marked once issued)."""
    start, end = local_period(customer, first, last)
    rows = conn.execute(
        select(cdrs.c.id, cdrs.c.call_id, cdrs.c.start_time, cdrs.c.dst, cdrs.c.sell_destination, cdrs.c.sell_prefix,
               cdrs.c.billsec, cdrs.c.sell_billed, cdrs.c.sell_rate, cdrs.c.sell_amount)
        .where(either_index(cdrs.c.customer == customer.name, cdrs.c.start_time >= start, cdrs.c.start_time < end),
               cdrs.c.sell_amount.is_not(None), cdrs.c.billsec > 0, cdrs.c.invoice_id.is_(None))
        .order_by(cdrs.c.start_time, cdrs.c.call_id)
    ).all()
    calls = tuple(InvoiceCall(c, int(t), d, dest or "", p or "", int(b), int(bb), int(r), int(a))
                  for _, c, t, d, dest, p, b, bb, r, a in rows)
    adj_rows = conn.execute(
        select(cdrs.c.id, cdrs.c.call_id, cdrs.c.start_time, cdrs.c.sell_destination, cdrs.c.invoiced_amount,
               cdrs.c.sell_amount)
        .where(either_index(cdrs.c.customer == customer.name), cdrs.c.invoice_id.is_not(None),
               func.coalesce(cdrs.c.sell_amount, 0) != cdrs.c.invoiced_amount)
        .order_by(cdrs.c.start_time, cdrs.c.call_id)
    ).all()
    adjustments = tuple(Adjustment(c, int(t), dest or "", int(old), int(new or 0))
                        for _, c, t, dest, old, new in adj_rows)
    brought = int(conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
        ledger.c.customer_id == cid, ledger.c.created_at < start)).scalar_one())
    payments = payments_between(conn, cid, start, end)
    total = sum(c.amount for c in calls) + sum(a.amount for a in adjustments)
    year = dt.datetime.fromtimestamp(now, dt.UTC).year
    seq = int(conn.execute(select(func.coalesce(func.max(invoices.c.seq), 0)).where(invoices.c.year == year))
              .scalar_one()) + 1
    facts = InvoiceFacts(
        number=f"INV-{year}-{seq:06d}", customer=customer, period_from=first, period_to=last, issued_at=now,
        calls=calls, adjustments=adjustments, balance_brought_forward=brought, payments=payments,
        balance_carried=brought + payments - total, issuer=dict(issuer),
    )
    return facts, [int(r[0]) for r in rows] + [int(r[0]) for r in adj_rows]


def _store(conn: Connection, cid: int, facts: InvoiceFacts, invoice: Invoice) -> int:
    year, seq = int(facts.number[4:8]), int(facts.number[9:])
    result = conn.execute(invoices.insert().values(
        number=facts.number, year=year, seq=seq, customer_id=cid, period_from=facts.period_from.isoformat(),
        period_to=facts.period_to.isoformat(), issued_at=facts.issued_at, total=invoice.total,
        document=json.dumps(_facts_to_json(facts), separators=(",", ":")),
    ))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _mark(conn: Connection, invoice_id: int, rows: list[int]) -> None:
    for chunk_start in range(0, len(rows), 5000):
        chunk = rows[chunk_start:chunk_start + 5000]
        conn.execute(update(cdrs).where(cdrs.c.id.in_(chunk)).values(
            invoice_id=invoice_id, invoiced_amount=func.coalesce(cdrs.c.sell_amount, 0)))


def _facts_to_json(f: InvoiceFacts) -> dict[str, object]:
    return {
        "number": f.number, "period_from": f.period_from.isoformat(), "period_to": f.period_to.isoformat(),
        "issued_at": f.issued_at, "balance_brought_forward": f.balance_brought_forward, "payments": f.payments,
        "balance_carried": f.balance_carried, "issuer": dict(f.issuer),
        "calls": [[c.call_id, c.start_time, c.dst, c.destination, c.prefix, c.billsec, c.billed_seconds, c.rate,
                   c.amount] for c in f.calls],
        "adjustments": [[a.call_id, a.start_time, a.destination, a.old_amount, a.new_amount] for a in f.adjustments],
        "customer": {"name": f.customer.name, "prepaid": f.customer.prepaid, "timezone": f.customer.timezone,
                     "currency": f.customer.currency},
    }


def _facts_from_json(doc: dict, customer: Customer) -> InvoiceFacts:
    from dataclasses import replace

    # the customer as issued (name, billing type, time zone, currency), even if changed since
    c = doc["customer"]
    customer = replace(customer, name=c["name"], prepaid=c["prepaid"], timezone=c["timezone"], currency=c["currency"])
    return InvoiceFacts(
        number=doc["number"], customer=customer, period_from=dt.date.fromisoformat(doc["period_from"]),
        period_to=dt.date.fromisoformat(doc["period_to"]), issued_at=doc["issued_at"],
        calls=tuple(InvoiceCall(*c) for c in doc["calls"]),
        adjustments=tuple(Adjustment(*a) for a in doc["adjustments"]),
        balance_brought_forward=doc["balance_brought_forward"], payments=doc["payments"],
        balance_carried=doc["balance_carried"], issuer=doc["issuer"],
    )
