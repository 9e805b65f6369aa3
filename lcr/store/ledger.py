"""Customers' money: the ledger, balances, payments, credit states for routing, low-balance alarms.

Balance = payments - charges (+ adjustments). Every change is a ledger row *and* an atomic
``UPDATE customers SET balance = balance + delta`` in the same transaction: the row lock makes
concurrent imports and payments add up exactly on PostgreSQL, and SQLite serialises writers.
The ledger's sum always equals ``customers.balance`` (a test checks it).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from lcr.errors import InputError, NotFound
from lcr.model import CreditState
from lcr.store.db import NOTIFY_CHANNEL
from lcr.store.schema import customers, ledger, store_state

log = logging.getLogger("lcr.ledger")


@dataclass(frozen=True, slots=True)
class BalanceView:
    customer: str
    currency: str
    balance: int
    credit_limit: int | None
    prepaid: bool

    @property
    def available(self) -> int | None:
        return CreditState(self.balance, self.credit_limit, self.prepaid).available

    def to_json(self) -> dict[str, object]:
        from lcr.api.render import money

        return {
            "customer": self.customer,
            "currency": self.currency,
            "balance": money(self.balance),
            "credit_limit": None if self.prepaid else money(self.credit_limit),
            "available": money(self.available),
            "prepaid": self.prepaid,
        }


@dataclass(frozen=True, slots=True)
class Alarm:
    """A customer whose available credit crossed its low-balance threshold (raised once per crossing)."""

    customer: str
    available: int
    threshold: int
    webhook_url: str | None


def _customer_row(conn: Connection, name: str):
    row = conn.execute(select(customers).where(customers.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"no customer named {name!r}")
    return row


def balance_of(conn: Connection, name: str) -> BalanceView:
    r = _customer_row(conn, name)
    return BalanceView(r["name"], r["currency"], int(r["balance"]), r["credit_limit"], bool(r["prepaid"]))


def credit_states(conn: Connection) -> dict[str, CreditState]:
    rows = conn.execute(select(customers.c.name, customers.c.balance, customers.c.credit_limit, customers.c.prepaid))
    return {n: CreditState(int(b), lim, bool(p)) for n, b, lim, p in rows}


def bump_credit(conn: Connection) -> None:
    conn.execute(update(store_state).where(store_state.c.id == 1).values(
        credit_version=store_state.c.credit_version + 1))
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_notify(:ch, 'credit')"), {"ch": NOTIFY_CHANNEL})


def credit_version(conn: Connection) -> int:
    return int(conn.execute(select(store_state.c.credit_version).where(store_state.c.id == 1)).scalar_one())


def post(conn: Connection, customer_id: int, kind: str, amount: int, *, calls: int = 0, import_id: int | None = None,
         reference: str | None = None) -> Alarm | None:
    """One ledger entry and the matching balance change, in the caller's transaction."""
    conn.execute(insert(ledger).values(customer_id=customer_id, kind=kind, amount=amount, calls=calls,
                                       import_id=import_id, reference=reference, created_at=int(time.time())))
    conn.execute(update(customers).where(customers.c.id == customer_id).values(balance=customers.c.balance + amount))
    return _check_alarm(conn, customer_id)


def _check_alarm(conn: Connection, customer_id: int) -> Alarm | None:
    r = conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().one()
    threshold = r["low_balance_threshold"]
    if threshold is None:
        return None
    available = CreditState(int(r["balance"]), r["credit_limit"], bool(r["prepaid"])).available
    if available is None:
        return None
    low = available < threshold
    if low == bool(r["low_balance_alerted"]):
        return None
    conn.execute(update(customers).where(customers.c.id == customer_id).values(low_balance_alerted=low))
    return Alarm(r["name"], available, threshold, r["webhook_url"]) if low else None


def add_payment(conn: Connection, name: str, amount: int, reference: str | None) -> tuple[BalanceView, Alarm | None]:
    if amount == 0:
        raise InputError("a payment of 0 changes nothing")
    r = _customer_row(conn, name)
    alarm = post(conn, int(r["id"]), "payment", amount, reference=reference)
    bump_credit(conn)
    return balance_of(conn, name), alarm


def ledger_sum(conn: Connection, name: str) -> int:
    r = _customer_row(conn, name)
    total = conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(ledger.c.customer_id == r["id"]))
    return int(total.scalar_one())


def payments_between(conn: Connection, customer_id: int, start: int, end: int) -> int:
    q = select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
        ledger.c.customer_id == customer_id, ledger.c.kind == "payment",
        ledger.c.created_at >= start, ledger.c.created_at < end)
    return int(conn.execute(q).scalar_one())


def raise_alarms(alarms: list[Alarm]) -> None:
    """After commit: log each crossing and call its webhook once (failures are logged, never raised)."""
    from lcr.api.render import money

    for a in alarms:
        log.warning("customer %s: available credit %s is below its low-balance threshold %s",
                    a.customer, money(a.available), money(a.threshold))
        if a.webhook_url:
            try:
                import httpx

                httpx.post(a.webhook_url, timeout=5, content=json.dumps({
                    "event": "low_balance", "customer": a.customer, "available": money(a.available),
                    "threshold": money(a.threshold)}), headers={"content-type": "application/json"})
            except Exception:
                log.exception("low-balance webhook for %s failed", a.customer)
