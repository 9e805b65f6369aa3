"""A scratch store for one benchmark run: a SQLite file in the run's work directory, or a fresh
PostgreSQL database (``LCR_TEST_POSTGRES_URL``'s server) dropped afterwards, even on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

PG_ADMIN = os.environ.get("LCR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_store(db: str, workdir: Path, name: str) -> Iterator[str]:
    """Yield the URL of an empty store (``db``: ``sqlite`` or ``postgresql``)."""
    if db == "sqlite":
        yield f"sqlite:///{workdir / 'bench.sqlite'}"
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
