"""What the router and the rater are built from, read from the store in one consistent snapshot.

``load_inputs`` reads everything. A running router re-reads after every change, and reading a
3-million-row store takes seconds, so ``read_world`` / ``reread_world`` also tell which deck
imports the inputs hold: after a deck import only the owners with a deck import not seen
before are read again, and every other owner's frame is the previous read's own object (which
``routing.advance.reload_snapshot`` then skips without comparing). Imports are known by id, not
by "the highest id so far": on PostgreSQL a transaction can commit after another that took a
higher id, and its deck must not be missed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, select

from lcr.model import CreditState, OwnerKind
from lcr.routing.inputs import RATE_SCHEMA, RoutingInputs
from lcr.store.db import store_version
from lcr.store.parties import list_carriers, list_customers
from lcr.store.rates import load_all_versions
from lcr.store.schema import carriers, customers, deck_imports


@dataclass(frozen=True)
class StoreRead:
    """Routing inputs with the store version and the ids of the deck imports they include."""

    version: int
    imports: frozenset[int]
    inputs: RoutingInputs
    owners: int = 0  # how many owners' rates were read (all of them, or those that changed)


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


def _names(conn: Connection) -> dict[OwnerKind, dict[int, str]]:
    return {
        OwnerKind.CARRIER: {int(i): n for i, n in conn.execute(select(carriers.c.id, carriers.c.name))},
        OwnerKind.CUSTOMER: {int(i): n for i, n in conn.execute(select(customers.c.id, customers.c.name))},
    }


def _imports(conn: Connection) -> dict[int, tuple[OwnerKind, int]]:
    rows = conn.execute(select(deck_imports.c.id, deck_imports.c.owner_kind, deck_imports.c.owner_id))
    return {int(i): (OwnerKind(kind), int(owner)) for i, kind, owner in rows}


def _credit(conn: Connection, credit: dict[str, CreditState] | None) -> dict[str, CreditState]:
    if credit is not None:
        return credit
    from lcr.store.ledger_state import credit_states

    return credit_states(conn)


def _read_all(conn: Connection, credit: dict[str, CreditState] | None) -> StoreRead:
    version = store_version(conn)
    imports = frozenset(_imports(conn))  # before the rates: an import committed later is read next time
    carrier_list, customer_list = tuple(list_carriers(conn)), tuple(list_customers(conn))
    names = _names(conn)
    carrier_rates = _by_owner(load_all_versions(conn, OwnerKind.CARRIER), names[OwnerKind.CARRIER])
    customer_rates = _by_owner(load_all_versions(conn, OwnerKind.CUSTOMER), names[OwnerKind.CUSTOMER])
    inputs = RoutingInputs(carrier_list, customer_list, carrier_rates, customer_rates, _credit(conn, credit))
    return StoreRead(version, imports, inputs, len(carrier_rates) + len(customer_rates))


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction. On PostgreSQL its connection is then closed instead of pooled: libpq's
    input buffer has grown to the largest row read (a column's whole array: ~115 MB for this
    world's 3.1M rows) and is never shrunk while the connection lives."""
    with engine.connect() as conn:
        with conn.begin():
            yield conn
        if conn.dialect.name == "postgresql":
            conn.invalidate()


def read_world(engine: Engine, credit: dict[str, CreditState] | None = None) -> StoreRead:
    """Everything, read in one transaction."""
    with _reading(engine) as conn:
        return _read_all(conn, credit)


def reread_world(engine: Engine, last: StoreRead) -> StoreRead:
    """The store now, reading again only the rates of owners with a deck import ``last`` does not
    include; everything when a carrier or customer was added, removed or changed."""
    with _reading(engine) as conn:
        return _reread(conn, last)


def _reread(conn: Connection, last: StoreRead) -> StoreRead:
    version = store_version(conn)
    imports = _imports(conn)
    carrier_list, customer_list = tuple(list_carriers(conn)), tuple(list_customers(conn))
    before = last.inputs
    if carrier_list != before.carriers or customer_list != before.customers:
        return _read_all(conn, None)
    names = _names(conn)
    fresh = {kind: {owner for i, (k, owner) in imports.items() if k is kind and i not in last.imports}
             for kind in OwnerKind}
    rates = {}
    for kind, old in ((OwnerKind.CARRIER, before.carrier_rates), (OwnerKind.CUSTOMER, before.customer_rates)):
        read = {names[kind][o] for o in fresh[kind] if o in names[kind]}
        merged = {name: frame for name, frame in old.items() if name not in read}
        if read:
            merged |= _by_owner(load_all_versions(conn, kind, fresh[kind]), names[kind])
        rates[kind] = merged
    inputs = RoutingInputs(carrier_list, customer_list, rates[OwnerKind.CARRIER], rates[OwnerKind.CUSTOMER],
                           _credit(conn, None))
    return StoreRead(version, frozenset(imports), inputs, sum(map(len, fresh.values())))


def load_inputs(engine: Engine, credit: dict[str, CreditState] | None = None) -> tuple[int, RoutingInputs]:
    """(store version, routing inputs) read in one transaction, so they belong together."""
    read = read_world(engine, credit)
    return read.version, read.inputs
