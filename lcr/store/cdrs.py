"""CDR intake: rate a batch on both sides, store every call once, charge each customer once.

One transaction per batch: the import record, the calls (``call_id`` unique: a call seen
before, in any file, format, run or concurrent importer, is a duplicate and charged nothing),
the quarantined lines, one ``charges`` ledger entry per customer, the balance updates and the
credit version bump. Charges are summed from the rows this batch actually inserted, so a
duplicate can never be charged twice even when two importers race (PostgreSQL: the second
waits on the first's uncommitted row, then skips it).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select

from lcr.cdrs.batch import CDR_SCHEMA, CdrProblem
from lcr.model import OwnerKind
from lcr.rating import reasons
from lcr.rating.batch import rate_batch
from lcr.store.db import writing
from lcr.store.ledger import Alarm, bump_credit, post, raise_alarms
from lcr.store.parties import list_customers
from lcr.store.rates import load_all_versions
from lcr.store.schema import carriers, cdr_imports, cdr_quarantine, cdrs, customers

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
    # phase -> wall seconds (read, rates, rate, insert, count, ledger, commit); not part of the JSON
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


def rate_frame(conn: Connection, frame: pl.DataFrame, clock: _Clock | None = None) -> pl.DataFrame:
    """Both sides of every call, against the rates in the store (all versions)."""
    clock = clock or _Clock({})
    known = list_customers(conn)
    sell, buy = _owned(conn, OwnerKind.CUSTOMER), _owned(conn, OwnerKind.CARRIER)
    clock.lap("rates")
    rated = rate_batch(frame, sell, buy, tech_prefixes={c.name: c.tech_prefix for c in known if c.tech_prefix})
    # a customer name the store does not know is its own reason (a deck-less customer: no sell rate)
    names = pl.Series([c.name for c in known], dtype=pl.String)
    unknown = pl.col("customer").is_not_null() & ~pl.col("customer").is_in(names.implode())
    sell_cols = [c for c in rated.columns if c.startswith("sell_")]
    out = rated.with_columns(
        *(pl.when(unknown).then(None).otherwise(pl.col(c)).alias(c) for c in sell_cols if c != "sell_reason"),
        pl.when(unknown & pl.col("sell_reason").is_null() | unknown & (pl.col("sell_reason") == reasons.NO_SELL_RATE))
        .then(pl.lit(UNKNOWN_CUSTOMER)).otherwise(pl.col("sell_reason")).alias("sell_reason"),
    ).with_columns(
        pl.when(pl.col("sell_amount").is_not_null() & pl.col("buy_amount").is_not_null())
        .then(pl.col("sell_amount") - pl.col("buy_amount")).alias("margin")
    )
    clock.lap("rate")
    return out


def import_cdr_batch(engine: Engine, frame: pl.DataFrame, problems: tuple[CdrProblem, ...] | list[CdrProblem], *,
                     source: str, fmt: str, content_hash: str | None = None,
                     warnings: tuple[CdrProblem, ...] = ()) -> CdrImportReport:
    report = CdrImportReport(source, fmt, lines=frame.height, malformed=len(problems), problems=list(problems),
                             warnings=[str(w) for w in warnings])
    frame = frame.select(list(CDR_SCHEMA)).cast(CDR_SCHEMA)  # type: ignore[arg-type]
    alarms: list[Alarm] = []
    clock = _Clock(report.timings)
    with writing(engine) as conn:
        report.import_id = int(conn.execute(insert(cdr_imports).values(
            source=source, format=fmt, content_hash=content_hash, summary="{}", created_at=int(time.time()),
        )).inserted_primary_key[0])  # type: ignore[index]
        if problems:
            now = int(time.time())
            conn.execute(insert(cdr_quarantine), [
                {"import_id": report.import_id, "source": source, "line": p.line, "raw": p.raw,
                 "reason": str(p), "created_at": now} for p in problems])
        clock.lap("setup")
        if frame.height:
            rated = rate_frame(conn, frame, clock)
            _insert_new(conn, rated.select(STORED_COLUMNS).with_columns(
                pl.lit(report.import_id, pl.Int64).alias("import_id")))
            clock.lap("insert")
            _count(conn, report)
            clock.lap("count")
            ids = dict(conn.execute(select(customers.c.name, customers.c.id)).all())
            for name, amount in report.charged.items():
                alarm = post(conn, ids[name], "charges", -amount, calls=report.charged_calls.get(name, 0),
                             import_id=report.import_id,
                             reference=source)
                if alarm:
                    alarms.append(alarm)
            if report.charged:
                bump_credit(conn)
        conn.execute(cdr_imports.update().where(cdr_imports.c.id == report.import_id).values(
            summary=json.dumps({k: v for k, v in report.to_json().items() if k not in ("problems", "warnings")})))
        clock.lap("ledger")
    clock.lap("commit")
    raise_alarms(alarms)
    return report


def _count(conn: Connection, report: CdrImportReport) -> None:
    mine = cdrs.c.import_id == report.import_id
    report.imported = int(conn.execute(select(func.count()).where(mine)).scalar_one())
    report.duplicates = report.lines - report.imported
    per_customer = conn.execute(
        select(cdrs.c.customer, func.sum(cdrs.c.sell_amount), func.count())
        .where(mine, cdrs.c.sell_amount.is_not(None)).group_by(cdrs.c.customer)
    ).all()
    report.charged = {c: int(a) for c, a, _n in per_customer if a}
    report.charged_calls = {c: int(n) for c, _a, n in per_customer}
    report.rated = sum(int(n) for _c, _a, n in per_customer)
    report.unrated = report.imported - report.rated
    report.unrated_reasons = {r: int(n) for r, n in conn.execute(
        select(cdrs.c.sell_reason, func.count()).where(mine, cdrs.c.sell_amount.is_(None)).group_by(cdrs.c.sell_reason)
    ).all()}


_COLUMNS = [*STORED_COLUMNS, "import_id"]


def _insert_new(conn: Connection, frame: pl.DataFrame) -> None:
    """Insert the calls whose call_id is new; the rest are silently skipped (counted by the caller)."""
    driver = conn.connection.driver_connection
    cols = ", ".join(_COLUMNS)
    if conn.dialect.name == "postgresql":
        buf = io.BytesIO()
        frame.select(_COLUMNS).write_csv(buf, include_header=False)
        with driver.cursor() as cur:  # type: ignore[union-attr]
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS cdr_stage (LIKE cdrs INCLUDING DEFAULTS) ON COMMIT DROP")
            cur.execute("TRUNCATE cdr_stage")
            with cur.copy(f"COPY cdr_stage ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
            cur.execute(f"INSERT INTO cdrs ({cols}) SELECT {cols} FROM cdr_stage ORDER BY id "
                        "ON CONFLICT (call_id) DO NOTHING")
        return
    cur = driver.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(f"INSERT OR IGNORE INTO cdrs ({cols}) VALUES ({', '.join('?' for _ in _COLUMNS)})",
                        frame.select(_COLUMNS).iter_rows())
    finally:
        cur.close()


def import_cdr_file(engine: Engine, path: str | Path, *, fmt: str | None = None, switch_tz: str = "UTC",
                    carrier_aliases: dict[str, str] | None = None) -> CdrImportReport:
    from lcr.cdrs import read_cdrs

    p = Path(path)
    t0 = time.perf_counter()
    batch = read_cdrs(p, format=fmt, switch_tz=switch_tz, carrier_aliases=carrier_aliases)  # type: ignore[arg-type]
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    from lcr.cdrs.reader import detect_format

    read = time.perf_counter() - t0
    report = import_cdr_batch(engine, batch.frame, batch.problems, source=p.name, fmt=fmt or detect_format(p),
                              content_hash=digest, warnings=batch.warnings)
    report.timings = {"read": read, **report.timings}
    return report
