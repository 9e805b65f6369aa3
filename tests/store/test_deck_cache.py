"""Compiled decks kept in the store (``lcr.store.deck_cache``), on both databases: a fresh
process rates from them without compiling, and any deck import or owner change, or a row
written by other code, makes the next import compile afresh."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from dataclasses import fields
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, update

import lcr.store.cdrs as store_cdrs
from lcr.model import Carrier, Customer, Gateway, OwnerKind
from lcr.rating.deck import CompiledDeck, compile_deck
from lcr.store import deck_cache
from lcr.store.cdrs import import_cdr_file
from lcr.store.db import writing
from lcr.store.imports import import_deck
from lcr.store.parties import add_carrier, add_customer
from lcr.store.schema import cdrs, compiled_decks
from tests.store.helpers import decks_ready
from tests.world import load_sample_world

HEADER = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
CALL = "globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"  # 0.06/min, 60/1: 60,000


@pytest.fixture
def world(engine):  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    return engine


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the decks compiled; every import starts as a fresh process would (no decks in memory)."""
    count: list[int] = []

    def counting(rates: pl.DataFrame) -> CompiledDeck:
        count.append(rates.height)
        return compile_deck(rates)

    monkeypatch.setattr(store_cdrs, "compile_deck", counting)
    store_cdrs._DECKS.clear()
    return count


def fresh_import(engine: Engine, path: Path) -> dict[str, int]:
    store_cdrs._DECKS.clear()  # a new CLI process
    return import_cdr_file(engine, path).charged


def calls(tmp_path: Path, *ids: str) -> list[Path]:
    out = []
    for i in ids:
        (tmp_path / f"{i}.csv").write_text(HEADER + f"{i}," + CALL)
        out.append(tmp_path / f"{i}.csv")
    return out


def saved_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(compiled_decks)).scalar_one())


def test_a_fresh_process_rates_from_the_saved_decks(world, tmp_path: Path, compiles: list[int]) -> None:  # type: ignore[no-untyped-def]
    a, b = calls(tmp_path, "s-1", "s-2")
    assert fresh_import(world, a) == {"globex": 60_000}
    assert len(compiles) == 2 and saved_rows(world) == 1  # sell and buy compiled once, saved
    assert fresh_import(world, b) == {"globex": 60_000}
    assert len(compiles) == 2  # read back, not compiled


def test_a_deck_import_compiles_afresh(world, tmp_path: Path, compiles: list[int]) -> None:  # type: ignore[no-untyped-def]
    a, b = calls(tmp_path, "v-1", "v-2")
    assert fresh_import(world, a) == {"globex": 60_000}
    deck = tmp_path / "globex_delta.csv"
    deck.write_text("prefix,destination,rate,effective_date,first_interval,next_interval\n"
                    "4915,Germany Mobile,0.1200,2026-11-02,60,1\n")
    import_deck(world, deck, kind=OwnerKind.CUSTOMER, owner="globex", mode="delta")
    assert fresh_import(world, b) == {"globex": 120_000}  # the new rate is used
    assert len(compiles) == 4  # compiled again after the change
    assert saved_rows(world) == 1  # the older row is gone


@pytest.mark.parametrize("owner", ["carrier", "customer"])
def test_an_owner_added_without_a_deck_leaves_the_decks_as_they_are(world, tmp_path: Path, compiles: list[int],  # type: ignore[no-untyped-def]
                                                                    owner: str) -> None:
    a, b = calls(tmp_path, "w-1", "w-2")
    assert fresh_import(world, a) == {"globex": 60_000}
    with writing(world) as conn:
        if owner == "carrier":
            add_carrier(conn, Carrier("zephyr", (Gateway("192.0.2.99", 5060),)))
        else:
            add_customer(conn, Customer("initech"))
    assert fresh_import(world, b) == {"globex": 60_000}
    assert len(compiles) == 2  # read back: nothing they were built from changed


def test_a_new_owners_first_deck_compiles_afresh_with_its_name(world, tmp_path: Path, compiles: list[int]) -> None:  # type: ignore[no-untyped-def]
    a, b = calls(tmp_path, "x-1", "x-2")
    assert fresh_import(world, a) == {"globex": 60_000}
    with writing(world) as conn:
        add_carrier(conn, Carrier("zephyr", (Gateway("192.0.2.99", 5060),)))
    deck = tmp_path / "zephyr.csv"
    deck.write_text("prefix,destination,rate,effective_date\n4915,Germany Mobile,0.0001,2026-11-02\n")
    import_deck(world, deck, kind=OwnerKind.CARRIER, owner="zephyr")
    b.write_text(HEADER + "x-2,globex,zephyr,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n")
    assert fresh_import(world, b) == {"globex": 60_000}
    assert len(compiles) == 4
    with world.connect() as conn:
        assert conn.execute(select(cdrs.c.buy_rate).where(cdrs.c.call_id == "x-2")).scalar_one() == 100


def test_a_row_written_by_other_code_is_ignored(world, tmp_path: Path, compiles: list[int]) -> None:  # type: ignore[no-untyped-def]
    a, b = calls(tmp_path, "t-1", "t-2")
    fresh_import(world, a)
    with world.begin() as conn:
        blob = bytes(conn.execute(select(compiled_decks.c.data)).scalar_one())
        (size,) = struct.unpack_from("<Q", blob)
        header = json.loads(blob[8:8 + size])
        header["tag"] = "0" * 64  # as if compile_deck had changed since
        head = json.dumps(header).encode()
        data = struct.pack("<Q", len(head)) + head + blob[8 + size:]
        # as saved by that code: the row's digest names its content
        conn.execute(update(compiled_decks).values(data=data, digest=hashlib.sha256(data).hexdigest()))
    assert fresh_import(world, b) == {"globex": 60_000}
    assert len(compiles) == 4


def test_a_fresh_process_reads_its_local_copy_not_the_row(world, tmp_path: Path, compiles: list[int],  # type: ignore[no-untyped-def]
                                                          deck_cache_dir: Path) -> None:
    a, b, c = calls(tmp_path, "l-1", "l-2", "l-3")
    fresh_import(world, a)
    with world.connect() as conn:
        digest = conn.execute(select(compiled_decks.c.digest)).scalar_one()
    copies = list(deck_cache_dir.iterdir())
    assert [p.name for p in copies] == [f"{digest}.lcrdecks"]
    with world.begin() as conn:  # the row unreadable: only the local copy can serve the next import
        conn.execute(update(compiled_decks).values(data=b"damaged"))
    assert fresh_import(world, b) == {"globex": 60_000}
    assert len(compiles) == 2
    copies[0].unlink()  # no copy left: the damaged row is refused, and the decks compiled again
    assert fresh_import(world, c) == {"globex": 60_000}
    assert len(compiles) == 4


def test_the_local_copy_is_written_from_the_row_and_can_be_turned_off(world, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      compiles: list[int], deck_cache_dir: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = calls(tmp_path, "o-1", "o-2", "o-3")
    monkeypatch.setenv("LCR_DECK_CACHE_DIR", "off")
    fresh_import(world, a)
    assert list(deck_cache_dir.iterdir()) == [] and saved_rows(world) == 1
    fresh_import(world, b)  # read from the row
    assert len(compiles) == 2 and list(deck_cache_dir.iterdir()) == []
    monkeypatch.setenv("LCR_DECK_CACHE_DIR", str(deck_cache_dir))
    fresh_import(world, c)  # read from the row, copied for the next process
    assert len(compiles) == 2
    with world.connect() as conn:
        digest, data = conn.execute(select(compiled_decks.c.digest, compiled_decks.c.data)).one()
    mapped = deck_cache.read_mapped(deck_cache_dir / f"{digest}.lcrdecks")
    assert mapped is not None
    assert_same_decks(mapped, deck_cache.decode(bytes(data)))


def test_a_damaged_local_copy_is_passed_over_for_the_row(world, tmp_path: Path, compiles: list[int],  # type: ignore[no-untyped-def]
                                                          deck_cache_dir: Path) -> None:
    a, b, c = calls(tmp_path, "x-1", "x-2", "x-3")
    fresh_import(world, a)
    (copy,) = deck_cache_dir.iterdir()
    good = copy.read_bytes()
    copy.write_bytes(good[: len(good) // 2])  # cut short
    assert fresh_import(world, b) == {"globex": 60_000}
    assert len(compiles) == 2  # read from the row, not compiled again
    assert copy.read_bytes() == good  # and the copy written afresh
    copy.write_bytes(b"\0" * 64)  # no header at all
    assert fresh_import(world, c) == {"globex": 60_000}
    assert len(compiles) == 2 and copy.read_bytes() == good


def assert_same_decks(mine: dict[str, CompiledDeck] | None, theirs: dict[str, CompiledDeck] | None) -> None:
    assert mine is not None and theirs is not None and set(mine) == set(theirs)
    for side in mine:
        for f in fields(CompiledDeck):
            a, b = getattr(mine[side], f.name), getattr(theirs[side], f.name)
            if isinstance(a, (pl.DataFrame, pl.Series)):
                assert a.equals(b), f.name
                assert a.dtypes == b.dtypes if isinstance(a, pl.DataFrame) else a.dtype == b.dtype
            else:
                assert a == b, f.name


def test_the_local_directory_keeps_the_newest_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LCR_DECK_CACHE_DIR", str(tmp_path))
    for i in range(deck_cache.LOCAL_KEPT + 3):
        blob = f"blob {i}".encode()
        path = deck_cache._local_path(hashlib.sha256(blob).hexdigest())
        assert path is not None
        deck_cache._write_local(path, [blob])
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    kept = sorted(p.read_bytes() for p in tmp_path.iterdir())
    # the file just written always stays; of the rest, the newest
    assert len(kept) == deck_cache.LOCAL_KEPT and f"blob {deck_cache.LOCAL_KEPT + 2}".encode() in kept
    assert deck_cache._local_path("../../etc/passwd") is None


def test_a_copy_being_written_is_left_alone_and_a_dead_processs_removed(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LCR_DECK_CACHE_DIR", str(tmp_path))
    writing_now = deck_cache._stage_local(tmp_path, [b"half a copy"])  # another process, still writing
    dead = deck_cache._stage_local(tmp_path, [b"left by a crash"])
    assert writing_now is not None and dead is not None
    old = time.time() - deck_cache.STAGING_ABANDONED_S - 60
    os.utime(dead, (old, old))
    for i in range(deck_cache.LOCAL_KEPT + 1):
        blob = f"blob {i}".encode()
        path = deck_cache._local_path(hashlib.sha256(blob).hexdigest())
        assert path is not None
        deck_cache._write_local(path, [blob])
    assert writing_now.read_bytes() == b"half a copy" and not dead.exists()
    assert len(list(tmp_path.glob("[!.]*"))) == deck_cache.LOCAL_KEPT


def test_blob_round_trip_keeps_every_field(tmp_path: Path) -> None:
    rates = pl.DataFrame(
        {"owner": ["acme", "acme", "borealis"], "prefix": ["49", "4915", "1"], "destination": ["DE", "DE mob", "US"],
         "rate": [10_000, 60_000, 5_000], "effective_from": [0, 0, 100], "effective_to": [None, 50, None],
         "blocked": [False, False, True], "first_interval": [1, 60, 6], "next_interval": [1, 1, 6],
         "connect_fee": [0, 10_000, 0]},
    )
    deck = compile_deck(rates)
    decks = {"sell": deck, "buy": deck}
    assert_same_decks(deck_cache.decode(deck_cache.encode(decks)), decks)
    assert deck_cache.decode(b"not a blob") is None
    # the local copy: mapped and used in place, the same fields; each format refuses the other
    local = tmp_path / "copy.lcrdecks"
    local.write_bytes(deck_cache.encode(decks, local=True))
    assert_same_decks(deck_cache.read_mapped(local), decks)
    assert deck_cache.decode(local.read_bytes()) is None
    local.write_bytes(deck_cache.encode(decks))
    assert deck_cache.read_mapped(local) is None
    assert deck_cache.read_mapped(tmp_path / "missing.lcrdecks") is None


def test_migrations_give_the_schema_of_schema_py(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lcr.store.schema import metadata

    def here(obj, name, kind, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
        # an index made on one dialect only (``Index.ddl_if``: the BRIN of bulk calls) is not missing elsewhere
        only = getattr(obj, "_ddl_if", None)
        return only is None or only.dialect in (None, engine.dialect.name)

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": here}), metadata)
    ours = [d for d in diff if any(name in repr(d) for name in ("compiled_decks", "'cdrs'", "ix_cdrs", "cdr_keys"))]
    assert ours == []


def test_a_rejected_file_writes_nothing_even_with_no_saved_decks(world, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                compiles: list[int], store_url: str) -> None:
    from lcr.errors import CdrRejected
    from tests.store.helpers import table_dump

    bad = tmp_path / "bad.csv"
    bad.write_text("call_id,customer\nx-1,globex\n")  # not a canonical header
    before = table_dump(world)
    with pytest.raises(CdrRejected):
        import_cdr_file(world, bad)
    assert table_dump(world) == before and compiles == []  # the decks were not compiled, nor saved


def test_head_is_the_newest_migration_and_an_upgraded_store_opens_without_alembic(engine) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from lcr.store.db import HEAD, current_revision, head_revision

    assert head_revision() == HEAD
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
    url = engine.url.render_as_string(hide_password=False)
    code = (f"import sys; from lcr.store.db import open_store; open_store({url!r}).dispose(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_deck_import_command_leaves_the_decks_compiled_once(world, store_url: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 compiles: list[int]) -> None:
    from click.testing import CliRunner

    from lcr.cli import main

    assert not decks_ready(world)  # the sample world was imported without the command
    decks = []
    for day, rate in (("2026-11-02", "0.1200"), ("2026-11-05", "0.1300")):
        decks.append(tmp_path / f"globex_{day}.csv")
        decks[-1].write_text(f"prefix,destination,rate,effective_date,first_interval,next_interval\n"
                             f"4915,Germany Mobile,{rate},{day},60,1\n")
    runner = CliRunner()
    out = runner.invoke(main, ["deck", "import", *map(str, decks), "--customer", "globex", "--mode", "delta",
                               "--database-url", store_url], catch_exceptions=False).stdout
    assert out.count("rating decks compiled for CDR imports") == 1  # after both files, not after each
    assert len(compiles) == 2 and decks_ready(world)
    assert not store_cdrs._DECKS  # saved: a server's next batch maps them rather than keep its own
    (a,) = calls(tmp_path, "y-1")
    assert fresh_import(world, a) == {"globex": 120_000}  # the first deck's rate, on 2026-11-03
    assert len(compiles) == 2  # the import found them compiled

    done = tmp_path / "processed" / decks[0].name  # several files: each moved aside with its report
    again = runner.invoke(main, ["deck", "import", str(done), "--customer", "globex", "--mode", "delta",
                                 "--database-url", store_url], catch_exceptions=False).stdout
    assert "already imported" in again and "rating decks" not in again and len(compiles) == 2


def test_deck_compile_compiles_once(world, store_url: str, compiles: list[int]) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from lcr.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["deck", "compile", "--json", "--database-url", store_url], catch_exceptions=False)
    doc = json.loads(first.stdout)
    assert first.exit_code == 0 and doc["compiled"] is True and set(doc["seconds"]) == {"compile", "save decks"}
    assert len(compiles) == 2 and decks_ready(world)
    again = runner.invoke(main, ["deck", "compile", "--database-url", store_url], catch_exceptions=False)
    assert again.stdout.strip() == "rating decks already compiled" and len(compiles) == 2
