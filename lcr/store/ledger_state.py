"""Customers' credit positions for routing. Until the ledger exists every balance is zero."""

from __future__ import annotations

from sqlalchemy import Connection

from lcr.model import CreditState
from lcr.store.parties import list_customers


def credit_states(conn: Connection) -> dict[str, CreditState]:
    return {
        c.name: CreditState(balance=0, credit_limit=c.credit_limit, prepaid=c.prepaid)
        for c in list_customers(conn)
    }
