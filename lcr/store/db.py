"""Engines, migrations and the change counter: the store's plumbing.

``open_store(url)`` gives an :class:`Engine` with the settings lcr relies on (SQLite: WAL, foreign
keys, a busy timeout; PostgreSQL through psycopg 3) and the schema at Alembic's head.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text, update

if TYPE_CHECKING:
    from alembic.config import Config

from lcr.store.schema import store_state

NOTIFY_CHANNEL = "lcr_changes"


SQLITE_PAGE_SIZE = 16384


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy's BEGIN be a real BEGIN (pysqlite's own transaction handling off),
            # so every import is one atomic transaction.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Taken by a new, empty database file only (before WAL, which fixes it): a CDR import
            # writes and checkpoints a quarter of the WAL frames it would with 4 KiB pages, its
            # commit 0.2 s shorter per million calls. An existing store keeps its page size.
            cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the write lock up front (no lock upgrade deadlock); readers never do.
            immediate = conn.get_execution_options().get("write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


# The newest migration's revision (a test checks it against migrations/versions/): a store already
# there is opened without loading Alembic, a tenth of a second of every CLI command.
HEAD = "0006"


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    location = resources.files("lcr.migrations")
    cfg.set_main_option("script_location", str(Path(str(location))))
    return cfg


def head_revision() -> str | None:
    """The newest revision found in the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The store's revision; None for a store no migration has run on."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head. Idempotent: returns False (and writes nothing) when already there."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return False
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: on SQLite it holds the write lock from its first statement."""
    with engine.connect() as conn:
        conn = conn.execution_options(write=True)
        with conn.begin():
            yield conn


def open_store(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def bump_version(conn: Connection) -> int:
    """Mark a change routers must see; inside the caller's transaction. Returns the new version."""
    now = int(time.time())
    conn.execute(update(store_state).where(store_state.c.id == 1).values(
        version=store_state.c.version + 1, changed_at=now))
    version = int(conn.execute(select(store_state.c.version).where(store_state.c.id == 1)).scalar_one())
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:ch, :v)"), {"ch": NOTIFY_CHANNEL, "v": str(version)})
    return version


def store_version(conn: Connection) -> int:
    return int(conn.execute(select(store_state.c.version).where(store_state.c.id == 1)).scalar_one())
