"""CDR intake: rate a batch on both sides, store every call once, charge each customer once.

A call_id repeated within the batch keeps its first line, and the calls are stored in
(customer, start_time) order. The compiled decks are read outside the write transaction (from
this process's memory, the machine's memory-mapped copy or the store). One transaction writes
everything, rating the calls on the way (a small SQLite batch is rated before it, so no write
lock is held meanwhile; a large one chunk by chunk by threads of its own while the keys, then
the chunks before, are stored; on PostgreSQL chunk by chunk while the server COPYs the chunks
before, the keys first, begun for a canonical CSV file while its lines are still checked):
the import record, the calls (each call_id once in ``cdr_keys``: a
call seen before, in any file, format, run or concurrent importer, is a duplicate and charged
nothing), the quarantined lines, one ``charges`` ledger entry per customer, the balance updates
and the credit version bump. Charges are summed from the rows this batch actually stored, so a
duplicate can never be charged twice even when two importers race (PostgreSQL: the second waits
for the first's lock on ``cdr_keys``, then finds its calls stored; SQLite: writers hold the
database's write lock in turn)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select

from lcr.cdrs.batch import CDR_SCHEMA, CdrProblem
from lcr.model import OwnerKind
from lcr.rating import reasons
from lcr.rating.batch import rate_compiled
from lcr.rating.deck import CompiledDeck, compile_deck
from lcr.store import deck_cache
from lcr.store.db import writing
from lcr.store.ledger import Alarm, bump_credit, post, raise_alarms
from lcr.store.parties import list_customers
from lcr.store.pgcopy import CopyInput, copy_frame, copy_input, encode
from lcr.store.rates import load_all_versions
from lcr.store.schema import BULK_MIN_CALLS, carriers, cdr_imports, cdr_quarantine, customers, deck_imports

UNKNOWN_CUSTOMER = "unknown customer"
STORED_COLUMNS = [
    "call_id", "customer", "carrier", "src", "dst", "start_time", "answer_time", "end_time", "billsec", "disposition",
    "sell_prefix", "sell_destination", "sell_rate", "sell_billed", "sell_amount", "sell_reason",
    "buy_prefix", "buy_rate", "buy_billed", "buy_amount", "buy_reason", "margin",
]


@dataclass
class CdrImportReport:
    source: str
    format: str
    import_id: int | None = None
    lines: int = 0  # well-formed calls read
    imported: int = 0  # new calls stored
    duplicates: int = 0  # calls already stored (or repeated in the batch): charged nothing
    rated: int = 0  # new calls with a sell charge
    unrated: int = 0  # new calls stored without a sell charge (reason kept)
    malformed: int = 0  # lines quarantined
    charged: dict[str, int] = field(default_factory=dict)  # customer -> micro-units charged
    charged_calls: dict[str, int] = field(default_factory=dict)  # customer -> calls charged
    unrated_reasons: dict[str, int] = field(default_factory=dict)
    problems: list[CdrProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # phase -> wall seconds (read, order, setup, compile (with the rates read), save decks or cached decks, stage, rate,
    # keys, insert, ledger, commit); not part of the JSON
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        from lcr.api.render import money

        return {
            "source": self.source, "format": self.format, "import_id": self.import_id, "lines": self.lines,
            "imported": self.imported, "duplicates": self.duplicates, "rated": self.rated, "unrated": self.unrated,
            "malformed": self.malformed, "charged": {k: money(v) for k, v in sorted(self.charged.items())},
            "unrated_reasons": dict(sorted(self.unrated_reasons.items())),
            "problems": [p.to_json() for p in self.problems], "warnings": self.warnings,
        }

    def to_text(self) -> str:
        from lcr.api.render import money

        out = [f"{self.source} ({self.format}): {self.imported} calls imported as CDR import #{self.import_id}, "
               f"{self.duplicates} duplicates (not charged), {self.malformed} malformed lines quarantined"]
        out.append(f"  rated {self.rated}, unrated {self.unrated}"
                   + "".join(f"; {n} {r}" for r, n in sorted(self.unrated_reasons.items())))
        out += [f"  charged {c}: {money(a)}" for c, a in sorted(self.charged.items())]
        out += [f"  malformed: {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            out.append(f"  ... {len(self.problems) - 50} more malformed lines (see `lcr cdr unrated` / --json)")
        out += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(out)


def _owned(conn: Connection, kind: OwnerKind) -> pl.DataFrame:
    table = carriers if kind is OwnerKind.CARRIER else customers
    names = pl.DataFrame(list(conn.execute(select(table.c.id, table.c.name)).all()),
                         schema={"owner_id": pl.Int64, "owner": pl.String}, orient="row")
    versions = load_all_versions(conn, kind)
    return versions.join(names, on="owner_id", how="inner").drop("owner_id", "id")


class _Clock:
    """Wall seconds per phase, added into ``into`` (the report's ``timings``)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.t = into, time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = self.into.get(phase, 0.0) + now - self.t
        self.t = now


def _compiled_side(engine: Engine, kind: OwnerKind) -> CompiledDeck:
    """One side's deck, its rates read on a connection of its own (the key is read again after
    both sides: a deck import committed meanwhile keeps them from being saved)."""
    with engine.connect() as conn:
        rates = _owned(conn, kind)
    return compile_deck(rates)


# database URL -> (what the decks were built from, sell deck, buy deck): the last compiled decks
# of each store, so a process importing many batches (the API, a loop of files) loads and
# compiles millions of rate rows once per change instead of once per batch.
_DECKS: dict[str, tuple[tuple[object, ...], CompiledDeck, CompiledDeck]] = {}
_DECKS_LOCK = threading.Lock()
_DECKS_KEPT = 2


def _slot(engine: Engine) -> str:
    """The store's key in ``_DECKS``: its URL."""
    return engine.url.render_as_string(hide_password=False)


def _decks_key(conn: Connection) -> tuple[object, ...]:
    """Changes with anything the compiled decks are built from: the rate versions, which only a
    deck import writes (with its ``deck_imports`` row, in one transaction: the count and the
    highest id change with every one, whatever order concurrent imports commit in), and the names
    of the owners with decks. An owner added without a deck, a payment or a credit change leaves
    the decks as they are."""
    key: list[object] = [tuple(conn.execute(select(func.count(), func.max(deck_imports.c.id))).one())]
    for kind, table in ((OwnerKind.CARRIER, carriers), (OwnerKind.CUSTOMER, customers)):
        with_decks = select(deck_imports.c.owner_id).where(deck_imports.c.owner_kind == kind.value)
        key.append(tuple(conn.execute(
            select(table.c.id, table.c.name).where(table.c.id.in_(with_decks)).order_by(table.c.id)).all()))
    return tuple(key)


def compiled_decks(conn: Connection, clock: _Clock | None = None) -> tuple[CompiledDeck, CompiledDeck]:
    """(sell, buy) decks compiled from every rate version in the store: from this process's
    cache, else from the store's (``lcr.store.deck_cache``), else compiled and saved there."""
    clock = clock or _Clock({})
    url = _slot(conn.engine)
    state = _decks_key(conn)  # read before the rates: a deck import committed meanwhile only misses later
    with _DECKS_LOCK:
        hit = _DECKS.get(url)
    if hit is not None and hit[0] == state:
        clock.lap("cached decks")  # this process compiled or read them before
        return hit[1], hit[2]
    key = deck_cache.cache_key(state)
    saved = deck_cache.load(conn, key)
    if saved is not None:
        sell, buy = saved
        clock.lap("cached decks")
    else:
        with ThreadPoolExecutor(1) as pool:  # the sell side read and compiled beside the buy side
            selling = pool.submit(_compiled_side, conn.engine, OwnerKind.CUSTOMER)
            buy = compile_deck(_owned(conn, OwnerKind.CARRIER))
            sell = selling.result()
        clock.lap("compile")
        # PostgreSQL reads each statement afresh: save only when no change committed meanwhile
        if _decks_key(conn) == state:
            deck_cache.save(conn, key, sell, buy)
        clock.lap("save decks")
    with _DECKS_LOCK:
        _DECKS.pop(url, None)
        while len(_DECKS) >= _DECKS_KEPT:  # a process serving several stores keeps the latest few
            _DECKS.pop(next(iter(_DECKS)))
        _DECKS[url] = (state, sell, buy)
    return sell, buy


def prepare_decks(engine: Engine) -> dict[str, float] | None:
    """Compile the store's decks for rating and save them (``lcr.store.deck_cache``) unless they
    are saved already: a deck import ends with it, so that CDR imports, API batches and re-rates
    after it find them ready instead of compiling millions of rate rows on their first batch.
    The phases' seconds (compile with the rates read, save decks) when it compiled; None when
    nothing was to do."""
    timings: dict[str, float] = {}
    with _PREPARE_LOCK, engine.connect() as conn:  # uploads in a row: the second finds the first's work
        key = deck_cache.cache_key(_decks_key(conn))
        if deck_cache.saved(conn, key):
            return None
        compiled_decks(conn, _Clock(timings))
        conn.commit()
        if deck_cache.saved(conn, key):  # a server's next batch maps the machine's copy (shared pages)
            with _DECKS_LOCK:              # instead of this process keeping hundreds of MB of its own
                _DECKS.pop(_slot(engine), None)
    return timings


_PREPARE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Rater:
    """What rating needs from the store, read once: both sides' compiled decks and the customers.
    Calling it rates a frame of calls (any part of a batch: every call is rated on its own)."""

    sell: CompiledDeck
    buy: CompiledDeck
    customers: tuple[str, ...]
    tech_prefixes: dict[str, str]

    def __call__(self, frame: pl.DataFrame) -> pl.DataFrame:
        rated = rate_compiled(frame, self.sell, self.buy, tech_prefixes=self.tech_prefixes)
        # a customer name the store does not know is its own reason (a deck-less customer: no sell rate)
        names = pl.Series(self.customers, dtype=pl.String)
        unknown = pl.col("customer").is_not_null() & ~pl.col("customer").is_in(names.implode())
        sell_cols = [c for c in rated.columns if c.startswith("sell_")]
        reason = pl.col("sell_reason")
        return rated.with_columns(
            *(pl.when(unknown).then(None).otherwise(pl.col(c)).alias(c) for c in sell_cols if c != "sell_reason"),
            pl.when(unknown & reason.is_null() | unknown & (reason == reasons.NO_SELL_RATE))
            .then(pl.lit(UNKNOWN_CUSTOMER)).otherwise(reason).alias("sell_reason"),
        ).with_columns(
            pl.when(pl.col("sell_amount").is_not_null() & pl.col("buy_amount").is_not_null())
            .then(pl.col("sell_amount") - pl.col("buy_amount")).alias("margin")
        )

    def rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The calls of ``frame`` rated, as stored (``STORED_COLUMNS``)."""
        return self(frame).select(STORED_COLUMNS)


def rater(conn: Connection, clock: _Clock | None = None) -> Rater:
    """The store's ``Rater`` now (all rate versions)."""
    known = list_customers(conn)
    sell, buy = compiled_decks(conn, clock)
    return Rater(sell, buy, tuple(c.name for c in known), {c.name: c.tech_prefix for c in known if c.tech_prefix})


def rate_frame(conn: Connection, frame: pl.DataFrame, clock: _Clock | None = None) -> pl.DataFrame:
    """Both sides of every call, against the rates in the store (all versions)."""
    clock = clock or _Clock({})
    out = rater(conn, clock)(frame)
    clock.lap("rate")
    return out


def import_cdr_batch(engine: Engine, frame: pl.DataFrame, problems: tuple[CdrProblem, ...] | list[CdrProblem], *,
                     source: str, fmt: str, content_hash: str | None = None,
                     warnings: tuple[CdrProblem, ...] = (), early: _PgEarly | None = None,
                     repeated_lines: tuple[int, ...] | None = None) -> CdrImportReport:
    """Import a checked batch (``frame``: ``CDR_SCHEMA``; ``problems``: its malformed lines).
    ``early``: the transaction that PostgreSQL's import of the file began while reading it;
    ``repeated_lines``: the lines whose call_id an earlier line has, when the reader knows them
    (``CdrBatch.repeated_lines``; None: found here)."""
    report = CdrImportReport(source, fmt, lines=frame.height, malformed=len(problems), problems=list(problems),
                             warnings=[str(w) for w in warnings])
    clock = _Clock(report.timings)
    frame = frame.select(list(CDR_SCHEMA)).cast(CDR_SCHEMA)  # type: ignore[arg-type]
    alarms: list[Alarm] = []
    postgres = engine.dialect.name == "postgresql"
    staged = not postgres and frame.height >= SQLITE_STAGE_MIN_ROWS
    calls = None
    with _staged(frame if staged else None) as stage:  # its keys file written while the batch is ordered
        if not postgres:  # PostgreSQL orders and rates the batch while the server stores its keys
            frame = _store_order(frame, repeated_lines)
            clock.lap("order")
            if frame.height:
                with engine.connect() as conn:  # reads (and, after a deck change, saves the compiled decks)
                    rate = rater(conn, clock)
                    conn.commit()
                if stage is not None:
                    stage.fill(frame, rate)
                else:  # rated before the write lock is taken
                    calls = rate.rows(frame)
                    clock.lap("rate")
        with early.transaction() if early is not None else _writing(engine, stage) as conn:
            clock.lap("stage" if stage is not None else "setup")
            report.import_id = early.import_id if early is not None else _new_import(conn, source, fmt)
            clock.lap("setup")
            if postgres and (frame.height or early is not None):  # early: its keys are stored already
                bad_lines = [p.line for p in problems if p.line is not None]
                _fill_counts(report, _pg_store(engine, conn, _first_lines(frame, repeated_lines), report.import_id,
                                               clock, early, bad_lines))
            elif frame.height:
                _fill_counts(report, _insert_new(conn, calls, report.import_id, stage=stage))
            if frame.height:
                clock.lap("insert")
                ids = dict(conn.execute(select(customers.c.name, customers.c.id)).all())
                for name, amount in report.charged.items():
                    alarm = post(conn, ids[name], "charges", -amount, calls=report.charged_calls.get(name, 0),
                                 import_id=report.import_id,
                                 reference=source)
                    if alarm:
                        alarms.append(alarm)
                if report.charged:
                    bump_credit(conn)
            if problems:
                now = int(time.time())
                conn.execute(insert(cdr_quarantine), [
                    {"import_id": report.import_id, "source": source, "line": p.line, "raw": p.raw,
                     "reason": str(p), "created_at": now} for p in problems])
            conn.execute(cdr_imports.update().where(cdr_imports.c.id == report.import_id).values(
                content_hash=content_hash,
                summary=json.dumps({k: v for k, v in report.to_json().items() if k not in ("problems", "warnings")})))
            clock.lap("ledger")
    clock.lap("commit")
    raise_alarms(alarms)
    return report


def _new_import(conn: Connection, source: str, fmt: str) -> int:
    """A new ``cdr_imports`` row (its hash and summary are written last); its id."""
    return int(conn.execute(insert(cdr_imports).values(
        source=source, format=fmt, summary="{}", created_at=int(time.time()),
    )).inserted_primary_key[0])  # type: ignore[index]


def _store_order(frame: pl.DataFrame, repeated_lines: tuple[int, ...] | None = None) -> pl.DataFrame:
    """The batch as stored: a call_id repeated within it keeps its first line, and the calls go
    in (customer, start_time) order (no customer first, ties in file order), so the index of
    that key grows at one place per customer instead of at random ones (a third of the
    insert's time on both databases)."""
    return _sorted(_first_lines(frame, repeated_lines))


def _first_lines(frame: pl.DataFrame, repeated_lines: tuple[int, ...] | None = None) -> pl.DataFrame:
    """The batch without the later lines of a call_id repeated within it: ``repeated_lines``
    when the reader gave them (dropped by number: a tenth of hashing every call_id again)."""
    if repeated_lines is None:
        return frame.filter(pl.col("call_id").is_first_distinct())
    return frame.filter(~pl.col("line").is_in(repeated_lines)) if repeated_lines else frame


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in (customer, start_time) order, no customer first, ties in their order. Sorted
    on one integer, the customer's rank among the frame's customers above the start time: a
    third faster than on the two columns."""
    if not frame.height:
        return frame
    low, high = frame.select(pl.col("start_time").min().alias("low"), pl.col("start_time").max().alias("high")).row(0)
    if low < 0 or high >= _START_BOUND:
        return frame.sort("customer", "start_time", maintain_order=True, nulls_last=False)
    names = frame.get_column("customer").unique().drop_nulls().sort()
    rank = pl.lit(names).search_sorted(pl.col("customer")).cast(pl.Int64)
    return frame.sort(pl.when(pl.col("customer").is_null()).then(-1).otherwise(rank) * _START_BOUND
                      + pl.col("start_time"), maintain_order=True)


_START_BOUND = 2**40  # start times in [0, 2**40) seconds (till the year 36812) sort on one integer


def _distinct_call_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """The batch's call_ids, each once, sorted (the keys to store): those of ``_store_order``'s
    output, found without waiting for it."""
    return frame.select(pl.col("call_id").sort().unique(maintain_order=True))  # sorted first: a fifth faster


# SQLite binds parameters one by one from Python objects (~4 s per million 22-column rows); a
# batch at least this large is instead written to scratch databases by ADBC (Arrow buffers bound
# in C, ~1.2 s per million, on threads of their own), then stored from there by ``INSERT ...
# SELECT``. Smaller batches (the API's) are bound from Python: the scratch files' fixed cost is
# not worth it there.
SQLITE_STAGE_MIN_ROWS = 20_000
SQLITE_STAGE_CHUNK_ROWS = 125_000  # one scratch file per chunk: chunk k is written while k - 1 is stored
_STAGE = "lcr_stage"  # schema names lcr_stage_keys, lcr_stage0, lcr_stage1, ... on the import's connection


class _Stage:
    """The batch written to scratch SQLite files while the import's transaction stores what is
    written: first every call_id, sorted, in file ``keys`` (table ``keys``), by a thread started
    at once, while the batch is ordered; then the ordered calls (``fill``), in chunks of at least
    ``SQLITE_STAGE_CHUNK_ROWS``, one file each (table ``cdrs``). Two threads (Polars and ADBC
    release the GIL): one rates the chunks, one writes the files by ADBC, each chunk as soon as it
    is rated; the import stores the keys while the first chunk is rated, and each chunk while the
    next is written. A connection attaches at most ``attach_limit`` files, so a large batch is
    cut into fewer, larger chunks."""

    def __init__(self, folder: Path, frame: pl.DataFrame, attach_limit: int) -> None:
        self.folder, self.attach_limit = folder, attach_limit
        self.frame = frame  # until ``fill``: the batch as read
        self.parts: list[pl.DataFrame] = []
        self.rated: list[pl.DataFrame] = []  # the chunks rated so far (STORED_COLUMNS), in order
        self.paths = [folder / "keys.sqlite"]
        self.schemas = [f"{_STAGE}_keys"]
        self._rate: Rater | None = None
        self._rated: list[threading.Event] = []
        self._written = [threading.Event()]  # keys, then each chunk
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._threads = [self._thread("lcr-cdr-keys", self._write_keys, frame, then=[])]

    @property
    def keys(self) -> str:
        return f"{self.schemas[0]}.keys"

    def chunk(self, i: int) -> str:
        return f"{self.schemas[i + 1]}.cdrs"

    def fill(self, frame: pl.DataFrame, rate: Rater) -> None:
        """Take the ordered batch: create each chunk's file with its empty table before the files
        are attached (a connection reads an attached file's schema once, so the table must be
        there from the start, and the keys file whole), and start rating."""
        size = max(SQLITE_STAGE_CHUNK_ROWS, -(-frame.height // max(1, self.attach_limit - 1)))
        self.frame, self._rate = frame, rate
        self.parts = [frame.slice(start, size) for start in range(0, frame.height, size)]
        self.paths += [self.folder / f"stage{i}.sqlite" for i in range(len(self.parts))]
        self.schemas += [f"{_STAGE}{i}" for i in range(len(self.parts))]
        self._rated = [threading.Event() for _ in self.parts]
        self._written += [threading.Event() for _ in self.parts]
        empty = rate.rows(self.parts[0].clear())
        for path in self.paths[1:]:
            _ingest(path, "cdrs", empty, "adbc.ingest.mode.create")
        self._threads[0].join()
        if self._error is not None:
            raise self._error
        self._written[0].set()
        self._threads.append(self._thread("lcr-cdr-rate", self._rate_all, then=self._rated))

    def start(self) -> None:
        """Begin writing the chunks; the files must be attached by then (SQLite attaches outside a
        transaction)."""
        self._threads.append(self._thread("lcr-cdr-stage", self._write_all, then=self._written))

    def ready(self, i: int) -> None:
        """Wait until file ``i`` is written (0: the keys, then chunk ``i - 1``)."""
        self._written[i].wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Rate and write no further chunk (none is needed: every call was stored before)."""
        self._stop.set()

    def join(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _write_keys(self, frame: pl.DataFrame) -> None:
        _ingest(self.paths[0], "keys", _distinct_call_ids(frame), "adbc.ingest.mode.create")

    def _rate_all(self) -> None:
        assert self._rate is not None
        for part, rated in zip(self.parts, self._rated, strict=True):
            if self._stop.is_set():
                break
            self.rated.append(self._rate.rows(part))
            rated.set()

    def _write_all(self) -> None:
        for i, (path, written) in enumerate(zip(self.paths[1:], self._written[1:], strict=True)):
            self._rated[i].wait()
            if self._stop.is_set() or self._error is not None or i >= len(self.rated):
                break
            _ingest(path, "cdrs", self.rated[i], "adbc.ingest.mode.append")
            written.set()

    def _thread(self, name: str, work: Callable[..., None], *args: object, then: list[threading.Event]
                ) -> threading.Thread:
        """A started thread running ``work(*args)``: an error is handed to the importer (``_fail``),
        and the events ``then`` are set whatever happens, so no one waits for what will not come."""
        def run() -> None:
            try:
                work(*args)
            except BaseException as exc:
                self._fail(exc)
            finally:
                for event in then:
                    event.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def _fail(self, exc: BaseException) -> None:
        """Hand ``exc`` to the importer, which raises it in ``ready``."""
        if self._error is None:
            self._error = exc
        self._stop.set()


def _ingest(path: Path, table: str, frame: pl.DataFrame, mode: str) -> None:
    """``frame`` into ``table`` of the SQLite file ``path``, by ADBC."""
    import adbc_driver_manager
    import adbc_driver_sqlite

    db = adbc_driver_sqlite.connect(str(path))
    try:
        with adbc_driver_manager.AdbcConnection(db) as conn:
            with adbc_driver_manager.AdbcStatement(conn) as stmt:
                # a scratch file: no journal, no syncs (nothing is lost if it is)
                for pragma in ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF"):
                    stmt.set_sql_query(pragma)
                    stmt.execute_query()
            with adbc_driver_manager.AdbcStatement(conn) as stmt:
                stmt.set_options(**{"adbc.ingest.target_table": table, "adbc.ingest.mode": mode})
                stmt.bind_stream(frame.__arrow_c_stream__())
                stmt.execute_update()
    finally:
        db.close()


@contextmanager
def _staged(frame: pl.DataFrame | None) -> Iterator[_Stage | None]:
    """The scratch files of the batch ``frame`` (its keys file begun at once; its calls once
    ``fill`` gives them ordered), removed afterwards; None when there is no ``frame`` (no stage)."""
    if frame is None:
        yield None
        return
    probe = sqlite3.connect(":memory:")
    attach_limit = probe.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED)  # this library's, as the store's connections have it
    probe.close()
    with tempfile.TemporaryDirectory(prefix="lcr-cdr-stage-") as tmp:
        stage = _Stage(Path(tmp), frame, attach_limit)
        try:
            yield stage
        finally:
            stage.join()  # its files are not removed under it


@contextmanager
def _writing(engine: Engine, stage: _Stage | None) -> Iterator[Connection]:
    """``lcr.store.db.writing``, with the scratch files attached first when there are any
    (SQLite attaches only outside a transaction), and their writing started."""
    if stage is None:
        with writing(engine) as conn:
            yield conn
        return
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        attached = []
        try:
            for path, schema in zip(stage.paths, stage.schemas, strict=True):
                driver.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))  # type: ignore[union-attr]
                attached.append(schema)
            stage.start()
            # A deferred BEGIN: BEGIN IMMEDIATE would lock every attached file at once, the
            # scratch files included while ADBC, a second SQLite library in this process whose
            # POSIX locks do not conflict with ours, is still writing them, and the stale pages read
            # then would be trusted. Each scratch file is first read here after it is written; the
            # main database's write lock is taken at once by a write that changes nothing.
            with conn.begin():
                driver.execute("DELETE FROM main.cdr_imports WHERE 0")  # type: ignore[union-attr]
                yield conn
        finally:
            stage.join()
            try:
                for schema in attached:
                    driver.execute(f"DETACH DATABASE {schema}")  # type: ignore[union-attr]
            except sqlite3.Error:
                conn.invalidate()  # never back to the pool with a scratch file attached


# (customer, sell_reason, has a sell amount, calls, sum of sell amounts) over the rows one batch inserted
_Summary = list[tuple[str | None, str | None, bool, int, int | None]]


def _fill_counts(report: CdrImportReport, summary: _Summary) -> None:
    """The report's counts from the rows this batch inserted (never from the whole file)."""
    charged: dict[str, int] = {}
    report.imported = report.rated = 0
    report.charged_calls, report.unrated_reasons = {}, {}
    for customer, reason, has_amount, calls, amount in summary:
        report.imported += calls
        if has_amount:
            assert customer is not None  # a call without a customer has no sell rate
            charged[customer] = charged.get(customer, 0) + int(amount or 0)
            report.charged_calls[customer] = report.charged_calls.get(customer, 0) + calls
            report.rated += calls
        else:
            why = reason or "unrated"  # every unrated side carries its reason
            report.unrated_reasons[why] = report.unrated_reasons.get(why, 0) + calls
    report.charged = {c: a for c, a in charged.items() if a}
    report.duplicates = report.lines - report.imported
    report.unrated = report.imported - report.rated


def _summary(frame: pl.DataFrame) -> _Summary:
    return list(frame.group_by("customer", "sell_reason", pl.col("sell_amount").is_not_null().alias("_has"))
                .agg(pl.len(), pl.col("sell_amount").sum()).iter_rows())


_SUMMARY_SQL = ("SELECT customer, sell_reason, sell_amount IS NOT NULL, count(*), sum(sell_amount) FROM {rows} "
                "GROUP BY customer, sell_reason, sell_amount IS NOT NULL")
_SQLITE_ROWS_PER_STATEMENT = 500
_SQLITE_CACHE_KIB = 512 * 1024  # page cache of the import's connection: the indexes' pages stay in memory


def _insert_new(conn: Connection, calls: pl.DataFrame | None, import_id: int, *, stage: _Stage | None = None
                ) -> _Summary:
    """SQLite: store the rated calls (``STORED_COLUMNS``, call_ids distinct) whose call_id is new:
    the key in ``cdr_keys``, the row in ``cdrs``; skip the rest. Summarise the rows stored. The
    calls are ``calls``, or those the ``stage`` rates.

    The writer holds the database's write lock. The keys go in first, ``INSERT OR IGNORE`` in
    call_id order. The rows are read from the attached scratch files, chunk by chunk as they are
    written, when there is a ``stage`` (see ``_Stage``), else bound from Python into a temporary
    table, 500 rows per statement. When every key was new every row follows, else only the rows
    whose key this import now holds; the summary is then read back from the rows above the
    table's previous highest id, else computed from the frame. The connection has a large page
    cache meanwhile.
    """
    driver = conn.connection.driver_connection
    stored = ", ".join(STORED_COLUMNS)
    cur = driver.cursor()  # type: ignore[union-attr]
    (cache,) = cur.execute("PRAGMA cache_size").fetchone()
    cur.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
    try:
        if stage is None:
            assert calls is not None
            cur.execute(f"CREATE TEMP TABLE lcr_batch ({stored})")
            _sqlite_insert(driver, cur, calls, "temp.lcr_batch")
            keys, total, chunks = "temp.lcr_batch ORDER BY call_id", calls.height, ["temp.lcr_batch"]
        else:
            stage.ready(0)
            keys, total = stage.keys, stage.frame.height  # written in call_id order
            chunks = [stage.chunk(i) for i in range(len(stage.parts))]
        (before,) = cur.execute("SELECT coalesce(max(id), 0) FROM cdrs").fetchone()
        changes = driver.total_changes  # type: ignore[union-attr]
        cur.execute(f"INSERT OR IGNORE INTO main.cdr_keys (call_id, import_id) SELECT call_id, ? FROM {keys}",
                    (import_id,))
        new = driver.total_changes - changes  # type: ignore[union-attr]
        only_new = "" if new == total else (
            f"WHERE (SELECT k.import_id FROM main.cdr_keys k WHERE k.call_id = s.call_id) = {int(import_id)}")
        if not new:  # every call was stored before: nothing more to rate, write or store
            if stage is not None:
                stage.stop()
            return []
        for i, source in enumerate(chunks):
            if stage is not None:
                stage.ready(i + 1)
            cur.execute(f"INSERT INTO main.cdrs ({stored}, import_id) SELECT {stored}, ? FROM {source} s "
                        f"{only_new} ORDER BY s.rowid", (import_id,))
        if new == total:
            return _summary(pl.concat(stage.rated) if stage is not None else calls)  # type: ignore[arg-type]
        rows = cur.execute(_SUMMARY_SQL.format(rows="cdrs WHERE id > ?"), (before,)).fetchall()
        return [(c, r, bool(h), int(n), None if a is None else int(a)) for c, r, h, n, a in rows]
    finally:
        if stage is None:
            cur.execute("DROP TABLE IF EXISTS temp.lcr_batch")
        cur.execute(f"PRAGMA cache_size = {int(cache)}")
        cur.close()


PG_CHUNK_ROWS = 125_000  # the rows are COPYed a chunk at a time, each while the next is rated and encoded


def _pg_store(engine: Engine, conn: Connection, frame: pl.DataFrame, import_id: int, clock: _Clock,
              early: _PgEarly | None = None, bad_lines: list[int] | None = None) -> _Summary:
    """PostgreSQL: rate the calls of the batch (``frame``: the first line of each call_id, see
    ``_first_lines``) and store those whose call_id is new, COPYed straight into ``cdr_keys`` and
    ``cdrs`` in the import's transaction ``conn``; summarise them.

    Everything on ``conn`` runs on a thread of its own, in order: first the keys (see
    ``_pg_keys``; begun by ``early`` while the file was still being read, when there is one, the
    keys of its ``bad_lines`` then deleted again), then the rows, one COPY per chunk of
    ``PG_CHUNK_ROWS``. This thread sorts the first chunk (``_sorted``: each chunk is sorted
    apart) and rates it meanwhile (the decks read on a connection of its own), then sorts and
    rates the rest, dropping the calls found stored before, and encodes each chunk for the next
    COPY: the server's work and the client's overlap. COPY uses PostgreSQL's multi-row insert:
    the ``INSERT ... SELECT ... ON CONFLICT`` it replaces inserted row by row (several times the
    server's CPU).
    """
    driver = conn.connection.driver_connection
    first: pl.DataFrame | None = None  # the first chunk, rated while the keys are stored
    copies: list[Future[None]] = []
    with ExitStack() as own:
        if early is not None:
            pool, keyed = early.pool, early.keyed
        else:  # conn's thread: jobs run in order; the keys found there while this orders the batch
            pool = own.enter_context(ThreadPoolExecutor(1, thread_name_prefix="lcr-cdr-copy"))
            keyed = pool.submit(_pg_keys, driver, frame, import_id)
        try:
            # each chunk sorted apart: the rows' COPY starts sooner, and the BRIN index of a large
            # import (schema.cdrs.bulk) stays as selective: each customer's calls lie in a run per chunk
            parts = [frame.slice(start, PG_CHUNK_ROWS) for start in range(0, frame.height, PG_CHUNK_ROWS)]
            if parts:
                parts[0] = _sorted(parts[0])
                clock.lap("order")
                with engine.connect() as read:  # reads (and, after a deck change, saves the compiled decks)
                    rate = rater(read, clock)
                    read.commit()
                first = rate.rows(parts[0])  # the first COPY's; the rest wait: the keys' server needs a core
                clock.lap("rate")
            stored = keyed.result()
            clock.lap("keys")
            if early is not None and bad_lines:  # keys of malformed lines only: no calls of this import
                dropped = early.malformed_keys(bad_lines, frame)
                if dropped.len():
                    pool.submit(_pg_unkey, driver, dropped, import_id).result()
                    stored = stored.filter(~stored.is_in(dropped.implode()))
            if stored.len() == frame.height:  # every call was stored before: nothing more to rate or store
                return []
            summary: _Summary = []  # each chunk's, summed by _fill_counts: the rated chunks are let go one by one
            fresh = frame.height - stored.len()
            next_id = pool.submit(_pg_reserve_ids, driver, fresh).result()
            # a large import's calls lie together in store order: the BRIN index finds them (schema.cdrs.bulk)
            marks = [pl.lit(import_id, pl.Int64).alias("import_id"), pl.lit(fresh >= BULK_MIN_CALLS).alias("bulk")]
            new = ~pl.col("call_id").is_in(stored.implode())  # the calls stored before are not rated, nor stored
            for part in parts:
                if first is not None:
                    calls, first = (first.filter(new) if stored.len() else first), None
                else:
                    calls = rate.rows(_sorted(part.filter(new) if stored.len() else part))
                summary += _summary(calls)
                if calls.height:
                    ids = pl.int_range(next_id, next_id + calls.height, dtype=pl.Int64).alias("id")
                    next_id += calls.height
                    encoded = encode(calls.with_columns(*marks, ids))
                    copies.append(pool.submit(_pg_copy, driver, encoded))
                failed = next((c for c in copies if c.done() and c.exception() is not None), None)
                if failed is not None:  # the transaction is lost: stop rating
                    failed.result()
        finally:
            pending: list[Future[Any]] = [keyed, *copies]
            wait(pending)  # conn is free again before anything else uses it, whatever happened
        for copy in copies:
            copy.result()
    return summary


class _PgEarly:
    """PostgreSQL, a plain canonical CSV file: the import's transaction is begun and its keys'
    COPY started (``_pg_keys``, on the connection's own thread) as soon as the reader has split
    the fields, while it still checks them (half the read: the server's work starts that much
    sooner). The keys of lines then found malformed are deleted again before any row is stored
    (``_pg_store``). The reader calls it (``on_call_ids``); ``transaction`` hands the open
    transaction to the import; ``abort`` rolls it back if the import fails before that."""

    def __init__(self, engine: Engine, source: str, fmt: str) -> None:
        self._engine, self._source, self._fmt = engine, source, fmt
        self._stack = ExitStack()
        self.started = False
        self.import_id = 0
        self.lines = pl.DataFrame()  # line, call_id: as read, before any check

    def __call__(self, lines: pl.DataFrame) -> None:
        self.lines = lines
        self.started = True
        conn = self.conn = self._stack.enter_context(writing(self._engine))
        self.import_id = _new_import(conn, self._source, self._fmt)
        # entered after the transaction, so left before it: its jobs end before commit or rollback
        self.pool = self._stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="lcr-cdr-copy"))
        self.keyed = self.pool.submit(_pg_read_keys, conn.connection.driver_connection, lines, self.import_id)

    def malformed_keys(self, bad_lines: list[int], calls: pl.DataFrame) -> pl.Series:
        """The call_ids of ``bad_lines`` that no call of the batch (``calls``) has."""
        ids = _call_ids(self.lines.filter(pl.col("line").is_in(bad_lines))).get_column("call_id").unique()
        kept = calls.filter(pl.col("call_id").is_in(ids.implode())).get_column("call_id")
        return ids.filter(~ids.is_in(kept.implode()))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            yield self.conn
        except BaseException as exc:
            self.abort(exc)
            raise
        self._stack.close()  # the jobs ended, then commit

    def abort(self, exc: BaseException) -> None:
        self._stack.__exit__(type(exc), exc, exc.__traceback__)  # the jobs ended, then rollback; once only


def _pg_reserve_ids(driver: Any, count: int) -> int:
    """The first of ``count`` consecutive new ``cdrs`` ids, taken from its sequence at once: the
    rows then carry their ids and the server does not call ``nextval`` a million times (a twentieth
    of the rows' COPY). Safe because every writer of ``cdrs`` is an importer holding the
    ``cdr_keys`` lock (see ``_pg_keys``): no ``nextval`` comes between the two here."""
    with driver.cursor() as cur:
        cur.execute("SELECT setval('cdrs_id_seq', nextval('cdrs_id_seq') + %s - 1)", (count,))
        (last,) = cur.fetchone()
    return int(last) - count + 1


def _pg_copy(driver: Any, encoded: CopyInput) -> None:
    with driver.cursor() as cur:
        copy_input(cur, "cdrs", encoded)


def _pg_keys(driver: Any, frame: pl.DataFrame, import_id: int) -> pl.Series:
    """Store the new of the batch's call_ids (``frame``'s) in ``cdr_keys`` (with ``import_id``);
    return those stored before.

    ``cdr_keys`` is locked against other importers first (SHARE ROW EXCLUSIVE: readers go on,
    and so do invoices and re-rates, which never write it), so what it holds cannot change
    before the COPY: every call is stored once and counted once. The keys are COPYed in call_id
    order (a third of the cost of any other order) inside a savepoint, optimistically: most
    batches hold no call stored before. When one does, the COPY stops at its key, the savepoint
    is rolled back, and an anti-join finds the calls stored before; the rest are COPYed.
    """
    import psycopg

    keys = _distinct_call_ids(frame).with_columns(pl.lit(import_id, pl.Int64).alias("import_id"))
    with driver.cursor() as cur:
        cur.execute("LOCK TABLE cdr_keys IN SHARE ROW EXCLUSIVE MODE")
        try:
            with driver.transaction():
                copy_frame(cur, "cdr_keys", keys)
            return pl.Series("call_id", [], dtype=pl.String)
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute('CREATE TEMP TABLE IF NOT EXISTS cdr_batch_ids (call_id text COLLATE "C") ON COMMIT DROP')
        cur.execute("TRUNCATE cdr_batch_ids")
        copy_frame(cur, "cdr_batch_ids", keys.select("call_id"))
        cur.execute("SELECT b.call_id FROM cdr_batch_ids b JOIN cdr_keys k ON k.call_id = b.call_id")
        stored = pl.Series("call_id", [r[0] for r in cur.fetchall()], dtype=pl.String)
        copy_frame(cur, "cdr_keys", keys.filter(~pl.col("call_id").is_in(stored.implode())))
    return stored


def _call_ids(lines: pl.DataFrame) -> pl.DataFrame:
    """The call_ids of ``lines`` as read, as the checked batch would have them: stripped, blanks
    left out (the reader finds them malformed)."""
    ids = pl.col("call_id").str.strip_chars()
    return lines.select(ids).filter(ids.is_not_null() & (ids != ""))


def _pg_read_keys(driver: Any, lines: pl.DataFrame, import_id: int) -> pl.Series:
    """``_pg_keys`` of the call_ids of ``lines`` as read (``_PgEarly``)."""
    return _pg_keys(driver, _call_ids(lines), import_id)


def _pg_unkey(driver: Any, call_ids: pl.Series, import_id: int) -> None:
    with driver.cursor() as cur:
        cur.execute("DELETE FROM cdr_keys WHERE import_id = %s AND call_id = ANY(%s)", (import_id, call_ids.to_list()))


def _sqlite_insert(driver: Any, cur: Any, frame: pl.DataFrame, table: str) -> None:
    """The frame's rows into ``table`` (columns of the frame's names), many rows per statement: a
    third faster than ``executemany`` of one row per statement (the per-statement cost is per row
    there)."""
    one = "(" + ", ".join("?" for _ in frame.columns) + ")"
    head = f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES "
    width = frame.width
    per = max(1, min(_SQLITE_ROWS_PER_STATEMENT, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    many = head + ", ".join([one] * per)
    for part in frame.iter_slices(100_000):
        # parameters built column-wise (faster than iter_rows), flattened row by row
        flat = list(chain.from_iterable(zip(*(column.to_list() for column in part.iter_columns()), strict=True)))
        full = part.height - part.height % per
        for start in range(0, full * width, per * width):
            cur.execute(many, flat[start:start + per * width])
        if full < part.height:
            rest = flat[full * width:]
            cur.executemany(head + one, (rest[i:i + width] for i in range(0, len(rest), width)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_cdr_file(engine: Engine, path: str | Path, *, fmt: str | None = None, switch_tz: str = "UTC",
                    carrier_aliases: dict[str, str] | None = None) -> CdrImportReport:
    from lcr.cdrs import read_cdrs
    from lcr.cdrs.reader import detect_format

    p = Path(path)
    t0 = time.perf_counter()
    # PostgreSQL: a canonical CSV file's keys are stored while its lines are checked (_PgEarly)
    early = _PgEarly(engine, p.name, fmt or "canonical") if engine.dialect.name == "postgresql" else None
    try:
        with ThreadPoolExecutor(1) as pool:  # the file's hash while it is parsed (hashlib releases the GIL)
            digest = pool.submit(_sha256, p)
            batch = read_cdrs(p, format=fmt, switch_tz=switch_tz, carrier_aliases=carrier_aliases,  # type: ignore[arg-type]
                              on_call_ids=early)
            content_hash = digest.result()
        read = time.perf_counter() - t0
        report = import_cdr_batch(engine, batch.frame, batch.problems, source=p.name, fmt=fmt or detect_format(p),
                                  content_hash=content_hash, warnings=batch.warnings,
                                  early=early if early is not None and early.started else None,
                                  repeated_lines=batch.repeated_lines)
    except BaseException as exc:
        if early is not None:  # the transaction begun early, if the import did not take it: rolled back
            early.abort(exc)  # (nothing to do when it never began, or the import ended it)
        raise
    report.timings = {"read": read, **report.timings}
    return report
