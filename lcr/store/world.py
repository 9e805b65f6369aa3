"""What the router and the rater are built from, read from the store in one consistent snapshot."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, select

from lcr.model import CreditState, OwnerKind
from lcr.routing.inputs import RATE_SCHEMA, RoutingInputs
from lcr.store.db import store_version
from lcr.store.parties import list_carriers, list_customers
from lcr.store.rates import load_all_versions
from lcr.store.schema import carriers, customers


def _by_owner(frame: pl.DataFrame, names: dict[int, str]) -> dict[str, pl.DataFrame]:
    """Each owner's versions, with the router's columns only (a serving process keeps them all,
    for timed switches and ``at=`` lookups: billing columns would be ~25 bytes a row more)."""
    if frame.is_empty():
        return {}
    frame = frame.select("owner_id", *RATE_SCHEMA)
    return {
        names[int(key[0])]: part.drop("owner_id")
        for key, part in frame.partition_by("owner_id", as_dict=True).items()
        if int(key[0]) in names
    }


def load_inputs(engine: Engine, credit: dict[str, CreditState] | None = None) -> tuple[int, RoutingInputs]:
    """(store version, routing inputs) read in one transaction, so they belong together."""
    with engine.connect() as conn, conn.begin():
        version = store_version(conn)
        carrier_list = tuple(list_carriers(conn))
        customer_list = tuple(list_customers(conn))
        carrier_names = {int(i): n for i, n in conn.execute(select(carriers.c.id, carriers.c.name))}
        customer_names = {int(i): n for i, n in conn.execute(select(customers.c.id, customers.c.name))}
        carrier_rates = _by_owner(load_all_versions(conn, OwnerKind.CARRIER), carrier_names)
        customer_rates = _by_owner(load_all_versions(conn, OwnerKind.CUSTOMER), customer_names)
        if credit is None:
            from lcr.store.ledger_state import credit_states

            credit = credit_states(conn)
    return version, RoutingInputs(carrier_list, customer_list, carrier_rates, customer_rates, credit)
