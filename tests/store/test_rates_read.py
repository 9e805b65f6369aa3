"""Reading every rate version in bulk (``load_all_versions``): SQLite reads each owner's versions
a page at a time; every version comes back once, whatever the page size."""

from __future__ import annotations

import polars as pl
import pytest

from lcr.model import OwnerKind
from lcr.store import rates as store_rates
from lcr.store.rates import load_all_versions
from tests.world import load_sample_world


@pytest.mark.parametrize("page", [1, 3, 7])
def test_pages_of_any_size_read_every_version_once(engine, monkeypatch: pytest.MonkeyPatch, page: int) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    with engine.connect() as conn:
        whole = {kind: load_all_versions(conn, kind).sort("id") for kind in OwnerKind}
    monkeypatch.setattr(store_rates, "_SQLITE_PAGE_ROWS", page)
    with engine.connect() as conn:
        paged = {kind: load_all_versions(conn, kind).sort("id") for kind in OwnerKind}
        some = load_all_versions(conn, OwnerKind.CARRIER, [1]).sort("id")
    for kind in OwnerKind:
        assert whole[kind].height > page  # several pages
        assert whole[kind]["id"].is_unique().all()
        assert paged[kind].equals(whole[kind])
    assert some.equals(whole[OwnerKind.CARRIER].filter(pl.col("owner_id") == 1))
