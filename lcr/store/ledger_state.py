"""Customers' credit positions for routing (see lcr.store.ledger)."""

from lcr.store.ledger import credit_states

__all__ = ["credit_states"]
