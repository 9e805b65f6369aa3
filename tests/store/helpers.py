"""Test helpers for the store: a snapshot of every table, to prove that nothing was written; every
test of a module run with small and with bulk imports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from lcr.store.schema import metadata


def table_dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with engine.connect() as conn:
        for name, table in metadata.tables.items():
            out[name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
    return out


def decks_ready(engine: Engine) -> bool:
    """Whether the rating decks of the store as it is now are compiled and saved."""
    from lcr.store import deck_cache
    from lcr.store.cdrs import _decks_key

    with engine.connect() as conn:
        return deck_cache.saved(conn, deck_cache.cache_key(_decks_key(conn)))


def sqlite_files_digest(url: str) -> str:
    """sha256 over the SQLite database file and its WAL, byte for byte."""
    path = Path(url.removeprefix("sqlite:///"))
    h = hashlib.sha256()
    for p in (path, path.with_name(path.name + "-wal")):
        h.update(p.read_bytes() if p.exists() else b"<absent>")
    return h.hexdigest()


@pytest.fixture(autouse=True, params=["small import", "bulk import"])
def import_size(request: pytest.FixtureRequest, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test once with its calls stored as a small import's, once as a large import's (on
    PostgreSQL: ``bulk``, found through the BRIN index instead of the B-tree)."""
    if request.param == "bulk import":
        if not store_url.startswith("postgresql"):
            pytest.skip("SQLite keeps every call in its B-tree")
        monkeypatch.setattr("lcr.store.cdrs.BULK_MIN_CALLS", 1)
