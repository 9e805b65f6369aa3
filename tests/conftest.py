"""Shared fixtures: the sample data, and a fresh store on SQLite and on PostgreSQL.

``store_url`` is parametrised over both databases, so one run of the suite tests both. The
PostgreSQL server is found at ``LCR_TEST_POSTGRES_URL`` (default the local trust-auth server);
each test gets its own database, cloned from a migrated template and dropped afterwards. Where
the server is unreachable the PostgreSQL cases are skipped, except under CI (``CI=true``),
where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get("LCR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

_template: str | None = None


@pytest.fixture(autouse=True)
def deck_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's local copies of compiled decks (``LCR_DECK_CACHE_DIR``) in a directory of its
    own, never in the user's ~/.cache; child processes inherit it."""
    folder = tmp_path_factory.mktemp("deck-cache")
    monkeypatch.setenv("LCR_DECK_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"sample data not found at {SHARED_DATA} (shared/ must sit beside the repository)")
    return SHARED_DATA


_admin = None


def _pg_admin():  # type: ignore[no-untyped-def]
    """One AUTOCOMMIT engine on the server's admin database for the whole session."""
    global _admin
    if _admin is None:
        _admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    return _admin


def _pg_template() -> str:
    global _template
    if _template is None:
        from lcr.store.db import open_store

        name = f"lcr_tmpl_{os.getpid()}"
        admin = _pg_admin()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        engine = open_store(str(make_url(PG_ADMIN_URL).set(database=name)))
        engine.dispose()
        _template = name
    return _template


def _pg_available() -> str | None:
    try:
        with _pg_admin().connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Iterator[None]:
    yield
    if _template is not None:
        with _pg_admin().connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)'))
    if _admin is not None:
        _admin.dispose()


def pg_database() -> Iterator[str]:
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
    name = f"lcr_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template()}"'))
    try:
        yield str(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty, migrated store; each test runs once per database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lcr.sqlite'}"
    else:
        yield from pg_database()


@pytest.fixture
def engine(store_url: str):  # type: ignore[no-untyped-def]
    from lcr.store.db import open_store

    eng = open_store(store_url)
    yield eng
    eng.dispose()
