"""CDR intake on both databases: samples in every format, exactly-once charging, quarantine,
and concurrent importers and payments adding up to the micro-unit."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from lcr.store.cdrs import import_cdr_file
from lcr.store.db import writing
from lcr.store.ledger import add_payment, balance_of, ledger_sum
from lcr.store.unrated import unrated_listing
from tests.world import load_sample_world


@pytest.fixture
def world(engine):  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    return engine


def test_canonical_sample_is_rated_as_a_person_reads_it(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    report = import_cdr_file(world, shared_data / "cdrs" / "canonical_cdrs.csv")
    assert (report.lines, report.imported, report.duplicates, report.malformed) == (7, 7, 0, 0)
    # c-0001 60 s to 4915 at 0.06 (60/1) = 0.06; c-0002 37 s to 336 at 0.065 (1/1) = 0.040083;
    # c-0003 unanswered = 0; c-0004 121 s to 2348 at 0.14 (60/60) = 180 s -> 0.42 + fee 0.01;
    # c-0005 13 s to 1 at 0.0095 (6/6) = 18 s -> 0.00285; c-0006 999 not covered; c-0007 = c-0001's price
    assert report.charged == {"globex": 60_000 + 40_083 + 0 + 430_000 + 2_850 + 60_000}
    assert report.unrated_reasons == {"no sell rate": 1}
    with world.connect() as conn:
        assert balance_of(conn, "globex").balance == -592_933
        assert ledger_sum(conn, "globex") == -592_933
    listing = unrated_listing(world)
    assert [c["call_id"] for c in listing["calls"]] == ["c-0006"]


def test_every_call_is_charged_once_across_files_and_formats(world, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = import_cdr_file(world, shared_data / "cdrs" / "freeswitch_cdr.csv")
    assert (first.lines, first.imported, first.duplicates) == (7, 6, 1)  # the last row repeats the first uuid
    again = import_cdr_file(world, shared_data / "cdrs" / "freeswitch_cdr.csv")
    assert (again.imported, again.duplicates, again.charged) == (0, 7, {})
    # the same calls re-exported as canonical CSV under the same ids: still duplicates
    (tmp_path / "same.csv").write_text(
        "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
        "0b4e6a1c-2f1d-4c1e-9a7e-3a9c1f000001,globex,acme,1555,4915123456789,2026-11-03T10:00:00Z,,,"
        "60,ANSWERED\n"
    )
    assert import_cdr_file(world, tmp_path / "same.csv").duplicates == 1
    with world.connect() as conn:
        assert balance_of(conn, "globex").balance == -sum(first.charged.values())
    # a stored call beside new ones (PostgreSQL: the optimistic COPY of the keys stops at the stored
    # one, and the anti-join path stores the two new calls, once)
    (tmp_path / "mixed.csv").write_text(
        "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
        "m-1,globex,acme,1555,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
        "0b4e6a1c-2f1d-4c1e-9a7e-3a9c1f000001,globex,acme,1555,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
        "m-2,globex,acme,1555,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
    )
    mixed = import_cdr_file(world, tmp_path / "mixed.csv")
    assert (mixed.imported, mixed.duplicates, mixed.charged) == (2, 1, {"globex": 120_000})
    with world.connect() as conn:
        assert balance_of(conn, "globex").balance == -sum(first.charged.values()) - 120_000
        stored = conn.execute(text("SELECT call_id, count(*) FROM cdrs GROUP BY call_id HAVING count(*) > 1")).all()
        assert stored == [] and conn.execute(text("SELECT count(*) FROM cdrs")).scalar_one() == 8


def test_text_with_tabs_backslashes_and_quotes_is_stored_as_read(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL COPYs in its text format unless a value holds what that format would need
    # escaped (then CSV): both kinds of batch are stored exactly as read, nulls and "" apart
    (tmp_path / "odd.csv").write_text(
        "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
        '"o\\1",globex,acme,"a\tb ""c""",4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n'
        "o-2,globex,,\\N,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
    )
    (tmp_path / "plain.csv").write_text(
        "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
        "p-1,globex,acme,,4915123456789,2026-11-03T10:00:00Z,,,0,NO ANSWER\n"
    )
    for name in ("odd.csv", "plain.csv"):
        assert import_cdr_file(world, tmp_path / name).imported in (1, 2)
    with world.connect() as conn:
        rows = {r[0]: tuple(r[1:]) for r in conn.execute(text(
            "SELECT call_id, src, carrier, answer_time, sell_reason, buy_reason FROM cdrs"))}
    assert rows == {
        "o\\1": ("a\tb \"c\"", "acme", None, None, None),
        "o-2": ("\\N", None, None, None, "no carrier"),
        "p-1": ("", "acme", None, None, None),
    }


def test_asterisk_carrier_from_dstchannel_or_lastdata(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    report = import_cdr_file(world, shared_data / "cdrs" / "asterisk_master.csv")
    assert report.imported == 6 and report.unrated == 0
    from sqlalchemy import select

    from lcr.store.schema import cdrs

    with world.connect() as conn:
        rows = dict(conn.execute(select(cdrs.c.dst, cdrs.c.carrier)).all())
    assert rows["12125550123"] == "delta"  # dstchannel empty: the peer from lastdata
    assert rows["4915123456789"] == "acme"


def test_malformed_lines_are_quarantined_not_lost(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "mixed.csv"
    f.write_text(
        "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
        "m-1,globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
        "m-2,globex,acme,1,4915123456789,yesterday,,,60,ANSWERED\n"
        "m-3,globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,sixty,ANSWERED\n"
    )
    report = import_cdr_file(world, f)
    assert (report.imported, report.malformed) == (1, 2)
    assert [(p.line, p.column) for p in report.problems] == [(3, "start_time"), (4, "billsec")]
    quarantined = unrated_listing(world)["quarantined"]
    assert [q["line"] for q in quarantined] == [3, 4]
    assert quarantined[0]["raw"].startswith("m-2,globex")


@pytest.mark.parametrize("store_url", ["postgresql", "sqlite"], indirect=True)
def test_concurrent_imports_and_payments_add_up_exactly(world, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # on SQLite both batches go through the ADBC stage (each importer its own scratch database)
    monkeypatch.setattr("lcr.store.cdrs.SQLITE_STAGE_MIN_ROWS", 1)
    header = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
    files = []
    for k in range(2):  # two files sharing half their calls: the shared ones are charged once
        lines = [f"k-{i},globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,{30 + i % 97},ANSWERED"
                 for i in range(k * 1500, k * 1500 + 3000)]
        path = tmp_path / f"f{k}.csv"
        path.write_text(header + "\n".join(lines) + "\n")
        files.append(path)
    errors: list[BaseException] = []

    def run(fn):  # type: ignore[no-untyped-def]
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    def pay() -> None:
        for _ in range(40):
            with writing(world) as conn:
                add_payment(conn, "globex", 1_234_567, "stream")

    threads = [threading.Thread(target=run, args=(lambda p=p: import_cdr_file(world, p),)) for p in files]
    threads.append(threading.Thread(target=run, args=(pay,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # the exact sum: 4,500 distinct calls, each 60/1 at 0.06/min -> 60 s minimum then per second
    expected_charges = 0
    for i in range(4500):
        billsec = 30 + i % 97
        billed = 60 if billsec <= 60 else billsec
        expected_charges += (billed * 60_000 * 2 + 60) // 120
    with world.connect() as conn:
        view = balance_of(conn, "globex")
        assert view.balance == 40 * 1_234_567 - expected_charges
        assert ledger_sum(conn, "globex") == view.balance


def test_a_deck_change_between_imports_is_rated_with_the_new_rate(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the compiled decks are cached per store between imports: a deck import must invalidate them
    from lcr.model import OwnerKind
    from lcr.store.imports import import_deck

    header = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
    call = "globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
    (tmp_path / "a.csv").write_text(header + "r-1," + call)
    (tmp_path / "b.csv").write_text(header + "r-2," + call)
    assert import_cdr_file(world, tmp_path / "a.csv").charged == {"globex": 60_000}  # 0.06/min, 60/1
    deck = tmp_path / "globex_delta.csv"
    deck.write_text("prefix,destination,rate,effective_date,first_interval,next_interval\n"
                    "4915,Germany Mobile,0.1200,2026-11-02,60,1\n")
    import_deck(world, deck, kind=OwnerKind.CUSTOMER, owner="globex", mode="delta")
    assert import_cdr_file(world, tmp_path / "b.csv").charged == {"globex": 120_000}


def _cdrs_and_ledger(engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from lcr.store.schema import cdrs, ledger

    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(cdrs).order_by(cdrs.c.id))]
        entries = [tuple(r) for r in conn.execute(
            select(ledger.c.customer_id, ledger.c.kind, ledger.c.amount, ledger.c.calls, ledger.c.import_id)
            .order_by(ledger.c.id))]
    return rows, entries


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("chunk", [250_000, 2], ids=["one-file", "files-of-2-calls"])
def test_the_sqlite_stage_stores_what_row_binding_stores(world, shared_data: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # big batches go through scratch files written by ADBC, a chunk per file, each stored while the
    # next is written; the same files imported with and without them give the same rows (ids
    # included), ledger entries and reports
    import lcr.store.cdrs as store_cdrs
    from lcr.store.db import open_store

    monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_CHUNK_ROWS", chunk)

    (tmp_path / "more.csv").write_text(
        "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
        "u-1,globex,acme,,+4915123456789,2026-11-03T10:00:00Z,2026-11-03T10:00:05Z,2026-11-03T10:01:05Z,60,ANSWERED\n"
        "u-2,globex,,1,4915123456789,2026-11-03T10:00:00+01:00,,,0,NO ANSWER\n"
        "u-1,globex,acme,1,4915123456789,2026-11-03T11:00:00Z,,,99,ANSWERED\n"  # repeated: the first line wins
        "u-3,nobody,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"  # unknown customer, kept unrated
        # the next call was stored by freeswitch_cdr.csv: a duplicate
        "0b4e6a1c-2f1d-4c1e-9a7e-3a9c1f000001,globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
        "u-4,globex,ghost,\u00e9\U0001f642,999,2026-11-03T10:00:00Z,,,7,ANSWERED\n"
    )
    files = [shared_data / "cdrs" / "freeswitch_cdr.csv", shared_data / "cdrs" / "canonical_cdrs.csv",
             tmp_path / "more.csv", tmp_path / "more.csv"]
    bound = open_store(f"sqlite:///{tmp_path / 'bound.sqlite'}")
    load_sample_world(bound)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    reports = []
    for engine, threshold in ((world, 1), (bound, 10**9)):
        monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_MIN_ROWS", threshold)
        reports.append([import_cdr_file(engine, f) for f in files])
    staged, plain = reports
    assert [r.to_json() for r in staged] == [r.to_json() for r in plain]
    assert [(r.imported, r.duplicates) for r in staged] == [(6, 1), (7, 0), (4, 2), (0, 6)]
    assert "stage" in staged[0].timings and "stage" not in plain[0].timings  # the stage was really used
    assert _cdrs_and_ledger(world) == _cdrs_and_ledger(bound)
    assert list(scratch.iterdir()) == []  # the scratch files are gone
    bound.dispose()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_failed_staged_import_stores_nothing(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import lcr.store.cdrs as store_cdrs

    monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_MIN_ROWS", 1)
    f = tmp_path / "a.csv"
    f.write_text("call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
                 "f-1,globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n")
    before = _cdrs_and_ledger(world)

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("ledger down")

    with monkeypatch.context() as m:
        m.setattr(store_cdrs, "post", broken)
        with pytest.raises(RuntimeError, match="ledger down"):
            import_cdr_file(world, f)
    assert _cdrs_and_ledger(world) == before  # the calls were rolled back with the ledger
    again = import_cdr_file(world, f)  # and the connection came back to the pool without the stage
    assert (again.imported, again.charged) == (1, {"globex": 60_000})


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_scratch_file_that_cannot_be_written_fails_the_import_and_stores_nothing(  # type: ignore[no-untyped-def]
        world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lcr.store.cdrs as store_cdrs

    monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_MIN_ROWS", 1)
    monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_CHUNK_ROWS", 1)
    f = tmp_path / "a.csv"
    f.write_text("call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
                 "w-1,globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n"
                 "w-2,globex,acme,1,4915123456789,2026-11-03T10:01:00Z,,,60,ANSWERED\n")
    before = _cdrs_and_ledger(world)
    real = store_cdrs._ingest

    def second_fails(path, table, frame, mode):  # type: ignore[no-untyped-def]
        if path.name == "stage1.sqlite" and mode.endswith("append"):
            raise OSError("disk full")
        real(path, table, frame, mode)

    with monkeypatch.context() as m:
        m.setattr(store_cdrs, "_ingest", second_fails)
        with pytest.raises(OSError, match="disk full"):
            import_cdr_file(world, f)
    assert _cdrs_and_ledger(world) == before  # the first chunk, stored already, was rolled back
    again = import_cdr_file(world, f)
    assert (again.imported, again.charged) == (2, {"globex": 120_000})


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_batch_of_more_chunks_than_a_connection_can_attach_is_cut_into_larger_ones(  # type: ignore[no-untyped-def]
        world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite attaches at most 10 files to a connection: 25 chunks of one call would need 26 (the
    # keys file too); the stage makes fewer, larger chunks instead, and every call is stored once
    import sqlite3

    import lcr.store.cdrs as store_cdrs

    monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_MIN_ROWS", 1)
    monkeypatch.setattr(store_cdrs, "SQLITE_STAGE_CHUNK_ROWS", 1)
    limit = sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_ATTACHED)
    calls = 2 * limit + 5
    f = tmp_path / "many.csv"
    f.write_text("call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n" + "".join(
        f"m-{i},globex,acme,1,4915123456789,2026-11-03T10:{i % 60:02d}:00Z,,,60,ANSWERED\n" for i in range(calls)))
    report = import_cdr_file(world, f)
    assert (report.imported, report.charged) == (calls, {"globex": 60_000 * calls})
    again = import_cdr_file(world, f)  # all stored: nothing more rated or written, nothing charged
    assert (again.imported, again.duplicates, again.charged) == (0, calls, {})


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("stored_before", [False, True], ids=["all-new", "some-stored"])
def test_a_failed_copy_of_one_chunk_stores_nothing(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                   stored_before: bool) -> None:
    # PostgreSQL COPYs the rows a chunk at a time on the connection's own thread; when the second
    # chunk's COPY fails, the import fails and the first chunk, and the keys, are rolled back
    import lcr.store.cdrs as store_cdrs

    monkeypatch.setattr(store_cdrs, "PG_CHUNK_ROWS", 2)
    head = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
    lines = [f"p-{i},globex,acme,1,4915123456789,2026-11-03T10:{i:02d}:00Z,,,60,ANSWERED\n" for i in range(7)]
    if stored_before:
        (tmp_path / "first.csv").write_text(head + lines[3])
        assert import_cdr_file(world, tmp_path / "first.csv").imported == 1
    f = tmp_path / "a.csv"
    f.write_text(head + "".join(lines))
    before = _cdrs_and_ledger(world)
    real, copied = store_cdrs._pg_copy, []

    def second_fails(driver, encoded):  # type: ignore[no-untyped-def]
        copied.append(encoded)
        if len(copied) == 2:
            raise OSError("connection reset")
        real(driver, encoded)

    with monkeypatch.context() as m:
        m.setattr(store_cdrs, "_pg_copy", second_fails)
        with pytest.raises(OSError, match="connection reset"):
            import_cdr_file(world, f)
    assert len(copied) >= 2 and _cdrs_and_ledger(world) == before
    again = import_cdr_file(world, f)
    new = 6 if stored_before else 7
    assert (again.imported, again.duplicates, again.charged) == (new, 7 - new, {"globex": 60_000 * new})


def _downgrade(engine, revision: str) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from lcr.store.db import _alembic_config

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_0005_moves_every_stored_call_id_into_cdr_keys(world, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A store of revision 0004 (call_id unique in ``cdrs``) keeps its calls' exactly-once
    guarantee across the upgrade, and the downgrade gives the constraint back."""
    from sqlalchemy import func, select

    from lcr.store.db import current_revision, upgrade
    from lcr.store.schema import cdr_keys, cdrs

    first = import_cdr_file(world, shared_data / "cdrs" / "canonical_cdrs.csv")
    _downgrade(world, "0004")
    with world.connect() as conn:
        assert current_revision(conn) == "0004"
        assert conn.execute(select(func.count()).select_from(cdrs)).scalar_one() == first.imported
    assert upgrade(world)
    with world.connect() as conn:
        keys = dict(conn.execute(select(cdr_keys.c.call_id, cdr_keys.c.import_id)).all())
        stored = dict(conn.execute(select(cdrs.c.call_id, cdrs.c.import_id)).all())
    assert keys == stored and len(keys) == first.imported
    again = import_cdr_file(world, shared_data / "cdrs" / "canonical_cdrs.csv")
    assert (again.imported, again.duplicates, again.charged) == (0, first.lines, {})


@pytest.mark.parametrize("seed", range(6))
def test_the_store_order_is_customer_then_start_time_with_the_first_of_each_call(seed: int) -> None:
    # the one-integer sort key gives the order of the two-column sort, nulls first, ties in file
    # order, repeats dropped; start times outside its range (seed 5: before 1970) take the slow sort
    import random

    from lcr.cdrs.batch import CDR_SCHEMA
    from lcr.store.cdrs import _store_order

    rng = random.Random(seed)
    n = 400
    low = -10**6 if seed == 5 else 0
    frame = pl.DataFrame({
        "line": range(2, n + 2),
        "call_id": [f"c{rng.randrange(300)}" for _ in range(n)],
        "customer": [rng.choice([None, "zeta", "acme", "globex", "Acme"]) for _ in range(n)],
        "carrier": ["x"] * n, "src": [""] * n, "dst": ["49"] * n,
        "start_time": [rng.randrange(low, low + 50) for _ in range(n)],
        "answer_time": [None] * n, "end_time": [None] * n, "billsec": [0] * n, "disposition": ["FAILED"] * n,
    }, schema=CDR_SCHEMA)
    expected = frame.filter(pl.col("call_id").is_first_distinct()).sort("customer", "start_time", maintain_order=True)
    assert _store_order(frame).equals(expected)
    # the same with the repeated lines given by number, as the readers give them
    repeated = tuple(frame.filter(~pl.col("call_id").is_first_distinct()).get_column("line").to_list())
    assert _store_order(frame, repeated).equals(expected)


def test_a_new_sqlite_store_has_16_kib_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    # the page size is taken by a new, empty file only; a store made with 4 KiB pages keeps them
    import sqlite3

    from lcr.store.db import SQLITE_PAGE_SIZE, open_store

    new = open_store(f"sqlite:///{tmp_path / 'new.sqlite'}")
    with new.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE == 16384
    new.dispose()
    old_file = tmp_path / "old.sqlite"
    with sqlite3.connect(old_file) as raw:
        raw.execute("PRAGMA page_size=4096")
        raw.execute("CREATE TABLE t (x)")
    old = open_store(f"sqlite:///{old_file}")
    with old.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    old.dispose()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_large_import_stores_bulk_calls_that_the_brin_index_finds(world, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL: an import of BULK_MIN_CALLS new calls or more marks them bulk (the BRIN index
    # holds them, the B-tree does not); a smaller one does not. A query by customer and period,
    # said with either_index, ORs both indexes (never the whole table) and finds every call,
    # before and after the BRIN ranges are summarised
    from sqlalchemy import func, select
    from sqlalchemy.dialects import postgresql

    import lcr.store.cdrs as store_cdrs
    from lcr.store.schema import cdrs, either_index

    monkeypatch.setattr(store_cdrs, "BULK_MIN_CALLS", 40)
    head = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"

    def calls(prefix: str, n: int, customer: str = "globex") -> Path:
        f = tmp_path / f"{prefix}.csv"
        f.write_text(head + "".join(f"{prefix}-{i},{customer},acme,1,4915123456789,2026-11-{1 + i % 28:02d}T10:00:00Z"
                                    f",,,60,ANSWERED\n" for i in range(n)))
        return f

    assert import_cdr_file(world, calls("big", 50)).imported == 50  # 50 new calls: bulk
    assert import_cdr_file(world, calls("small", 30)).imported == 30
    assert import_cdr_file(world, calls("big", 45)).imported == 0  # 50 read, none new: nothing stored
    assert import_cdr_file(world, calls("other", 39, customer="initech")).imported == 39
    with world.connect() as conn:
        by_bulk = dict(conn.execute(select(cdrs.c.bulk, func.count()).group_by(cdrs.c.bulk)).all())
        assert by_bulk == {True: 50, False: 69}
        indexes = dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cdrs'")).all())
        assert "USING brin (customer, start_time)" in indexes["ix_cdrs_bulk_customer_start"]
        assert indexes["ix_cdrs_bulk_customer_start"].endswith("WHERE bulk")
        assert indexes["ix_cdrs_customer_start"].endswith("WHERE (NOT bulk)")
        assert conn.execute(text("SELECT collation_name FROM information_schema.columns "
                                 "WHERE table_name = 'cdr_keys' AND column_name = 'call_id'")).scalar_one() == "C"

        query = select(func.count()).where(either_index(
            cdrs.c.customer == "globex", cdrs.c.start_time >= 1_793_491_200, cdrs.c.start_time < 1_794_182_400))
        sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))

        def counted(*settings: str) -> tuple[int, str]:
            for s in settings:
                conn.execute(text(f"SET LOCAL {s}"))
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
            return conn.execute(query).scalar_one(), plan

        by_index, plan = counted("enable_seqscan = off")
        assert "ix_cdrs_bulk_customer_start" in plan and "ix_cdrs_customer_start" in plan and "Seq Scan" not in plan
        conn.rollback()
        by_table, plan = counted("enable_bitmapscan = off", "enable_indexscan = off")
        assert "Seq Scan" in plan
        conn.rollback()
        conn.execute(text("SELECT brin_summarize_new_values('ix_cdrs_bulk_customer_start')"))
        summarised, _ = counted("enable_seqscan = off")
        conn.rollback()
    # globex's calls on 2026-11-01 .. 2026-11-08 (the big file's and the small file's), none of initech's
    expected = sum(1 for i in range(50) if 1 + i % 28 <= 8) + sum(1 for i in range(30) if 1 + i % 28 <= 8)
    assert by_index == by_table == summarised == expected


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_keys_stored_while_the_file_is_checked_keep_no_malformed_line(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL stores a canonical file's call_ids before its lines are checked; the keys of
    # lines found malformed are taken out again (a key stored by an earlier import stays), so
    # the corrected line is imported later
    from sqlalchemy import select

    from lcr.store.schema import cdr_keys, cdr_quarantine

    head = "call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"

    def line(call_id: str, billsec: str = "60", start: str = "2026-11-03T10:00:00Z") -> str:
        return f"{call_id},globex,acme,1,4915123456789,{start},,,{billsec},ANSWERED\n"

    (tmp_path / "earlier.csv").write_text(head + line("s-1"))
    earlier = import_cdr_file(world, tmp_path / "earlier.csv")
    f = tmp_path / "a.csv"
    f.write_text(head + line("g-1") + line(" g-2 ") + line("m-1", billsec="x") + line("g-2", start="noon")
                 + line("s-1", billsec="-1") + line("g-3") + line("", billsec="y"))
    report = import_cdr_file(world, f)
    assert (report.imported, report.malformed, report.charged) == (3, 4, {"globex": 180_000})
    with world.connect() as conn:
        keys = dict(conn.execute(select(cdr_keys.c.call_id, cdr_keys.c.import_id)).all())
        quarantined = conn.execute(select(cdr_quarantine.c.line).where(
            cdr_quarantine.c.import_id == report.import_id).order_by(cdr_quarantine.c.line)).scalars().all()
    assert keys == {"s-1": earlier.import_id, "g-1": report.import_id, "g-2": report.import_id,
                    "g-3": report.import_id}
    assert quarantined == [4, 5, 6, 8]
    (tmp_path / "fixed.csv").write_text(head + line("m-1") + line("g-2"))
    fixed = import_cdr_file(world, tmp_path / "fixed.csv")
    assert (fixed.imported, fixed.duplicates) == (1, 1)

    bad = tmp_path / "bad.csv"  # no line well-formed: no key is left
    bad.write_text(head + line("b-1", billsec="x") + line("b-2", start="later"))
    nothing = import_cdr_file(world, bad)
    assert (nothing.imported, nothing.malformed) == (0, 2)
    with world.connect() as conn:
        assert conn.execute(select(cdr_keys.c.call_id).where(cdr_keys.c.call_id.like("b-%"))).all() == []


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_failure_after_the_keys_were_begun_stores_nothing(world, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # the transaction begun while the file was read is rolled back when checking its lines fails
    import lcr.cdrs.canonical as canonical
    from tests.store.helpers import table_dump

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise MemoryError("checking the lines failed")

    f = tmp_path / "a.csv"
    f.write_text("call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition\n"
                 "k-1,globex,acme,1,4915123456789,2026-11-03T10:00:00Z,,,60,ANSWERED\n")
    before = table_dump(world)
    monkeypatch.setattr(canonical, "normalise", failing)
    with pytest.raises(MemoryError):
        import_cdr_file(world, f)
    assert table_dump(world) == before
    monkeypatch.undo()
    assert import_cdr_file(world, f).imported == 1


def test_migration_0006_keeps_every_call_in_the_b_tree_as_not_bulk(world, shared_data: Path,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of revision 0005 gains ``cdrs.bulk`` (false for the calls it holds: the B-tree
    keeps finding them) without its table being rebuilt; the downgrade takes it away again."""
    from sqlalchemy import event, func, inspect, select

    from lcr.store.db import current_revision, upgrade
    from lcr.store.invoices import issue_invoice
    from lcr.store.schema import cdrs

    first = import_cdr_file(world, shared_data / "cdrs" / "canonical_cdrs.csv")
    _downgrade(world, "0005")
    with world.connect() as conn:
        assert current_revision(conn) == "0005"
        assert "bulk" not in {c["name"] for c in inspect(conn).get_columns("cdrs")}
    statements: list[str] = []
    event.listen(world, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert upgrade(world)
    assert not any("_alembic_tmp" in s or "INSERT INTO cdrs" in s for s in statements)  # no copy of the table
    with world.connect() as conn:
        assert conn.execute(select(func.count()).where(~cdrs.c.bulk)).scalar_one() == first.imported
    import datetime as dt

    from lcr.billing import DEMO_ISSUER

    invoice = issue_invoice(world, "globex", dt.date(2026, 11, 1), dt.date(2026, 11, 30), issuer=DEMO_ISSUER,
                            now=1_796_000_000)
    assert invoice.to_json()["total"] == "0.592933"  # the calls stored before are found through the B-tree
