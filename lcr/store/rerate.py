"""Re-rating stored calls after a deck correction, and the margin report.

``rerate`` rates the calls of a period again with the rates in the store now, rewrites the rows
that changed, and posts, per customer, ONE ledger entry of kind ``rerate`` for the difference
(new charges minus old), all in one transaction. Old charges are reversed and new ones applied
in that single net entry, so a call is never charged twice, and re-rating the same period
again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Connection, Engine, and_, select

from lcr.cdrs.batch import CDR_SCHEMA
from lcr.store.cdrs import rate_frame
from lcr.store.db import writing
from lcr.store.ledger import Alarm, bump_credit, post, raise_alarms
from lcr.store.pgcopy import copy_frame
from lcr.store.schema import cdrs, customers, either_index

RATED = ["sell_prefix", "sell_destination", "sell_rate", "sell_billed", "sell_amount", "sell_reason",
         "buy_prefix", "buy_rate", "buy_billed", "buy_amount", "buy_reason", "margin"]


@dataclass
class RerateReport:
    start: int
    end: int
    customer: str | None
    calls: int = 0
    changed: int = 0
    delta: dict[str, int] = field(default_factory=dict)  # customer -> new charges - old charges

    def to_json(self) -> dict[str, object]:
        from lcr.api.render import money
        from lcr.timeutil import iso

        return {"from": iso(self.start), "to": iso(self.end), "customer": self.customer, "calls": self.calls,
                "changed": self.changed, "delta": {k: money(v) for k, v in sorted(self.delta.items())}}

    def to_text(self) -> str:
        from lcr.api.render import money
        from lcr.timeutil import iso

        out = [f"re-rated {self.calls} calls from {iso(self.start)} to {iso(self.end)}: {self.changed} changed"]
        out += [f"  {c}: charges {'+' if d > 0 else ''}{money(d)}" for c, d in sorted(self.delta.items())]
        return "\n".join(out)


def _stored(conn: Connection, start: int, end: int, customer: str | None) -> pl.DataFrame:
    cols = [c for c in CDR_SCHEMA if c != "line"]
    where = and_(cdrs.c.start_time >= start, cdrs.c.start_time < end)
    if customer is not None:
        where = either_index(cdrs.c.customer == customer, where)
    rows = conn.execute(select(*(cdrs.c[c] for c in cols + RATED), cdrs.c.id).where(where)).all()
    schema = {**{c: CDR_SCHEMA[c] for c in cols}, **{c: pl.String() if c.endswith(("_reason", "_prefix",
                                                                                       "_destination"))
                                                    else pl.Int64() for c in RATED}, "id": pl.Int64()}
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return frame.with_columns(pl.lit(0, pl.Int64).alias("line"))


def rerate(engine: Engine, start: int, end: int, customer: str | None = None) -> RerateReport:
    report = RerateReport(start, end, customer)
    alarms: list[Alarm] = []
    with writing(engine) as conn:
        old = _stored(conn, start, end, customer)
        report.calls = old.height
        if old.is_empty():
            return report
        new = rate_frame(conn, old.select(list(CDR_SCHEMA)))
        both = old.select("id", "call_id", "customer", *(pl.col(c).alias(f"old_{c}") for c in RATED)).join(
            new.select("call_id", *RATED), on="call_id", how="inner")
        differs = pl.lit(False)
        for c in RATED:
            differs = differs | ~pl.col(c).eq_missing(pl.col(f"old_{c}"))
        changed = both.filter(differs)
        report.changed = changed.height
        if changed.is_empty():
            return report
        _update(conn, changed.select("id", *RATED))
        per_customer = changed.filter(pl.col("customer").is_not_null()).group_by("customer").agg(
            (pl.col("sell_amount").fill_null(0) - pl.col("old_sell_amount").fill_null(0)).sum().alias("delta"))
        ids = dict(conn.execute(select(customers.c.name, customers.c.id)).all())
        for name, delta in per_customer.iter_rows():
            if delta and name in ids:
                report.delta[name] = int(delta)
                alarm = post(conn, ids[name], "rerate", -int(delta), reference=f"rerate {start}-{end}")
                if alarm:
                    alarms.append(alarm)
        if report.delta:
            bump_credit(conn)
    raise_alarms(alarms)
    return report


def _update(conn: Connection, frame: pl.DataFrame) -> None:
    sets = ", ".join(f"{c} = s.{c}" for c in RATED)
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cur:  # type: ignore[union-attr]
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS cdr_rerate ON COMMIT DROP AS "
                        f"SELECT id, {', '.join(RATED)} FROM cdrs WITH NO DATA")
            cur.execute("TRUNCATE cdr_rerate")
            copy_frame(cur, "cdr_rerate", frame.select("id", *RATED))
            cur.execute(f"UPDATE cdrs SET {sets} FROM cdr_rerate s WHERE cdrs.id = s.id")
        return
    cur = driver.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(f"UPDATE cdrs SET {', '.join(f'{c} = ?' for c in RATED)} WHERE id = ?",
                        (row[1:] + row[:1] for row in frame.iter_rows()))
    finally:
        cur.close()


def margin_report(engine: Engine, start: int, end: int, *, by: tuple[str, ...] = ("customer", "carrier", "destination"),
                  customer: str | None = None) -> list[dict[str, object]]:
    """Calls, billed minutes, sell, cost and margin per group, over rated calls of the period."""
    from lcr.api.render import money

    with engine.connect() as conn:
        frame = _stored(conn, start, end, customer)
    frame = frame.filter(pl.col("sell_amount").is_not_null()).with_columns(
        pl.col("sell_destination").alias("destination"))
    if frame.is_empty():
        return []
    groups = frame.group_by(list(by)).agg(
        pl.len().alias("calls"),
        pl.col("sell_billed").sum().alias("billed_seconds"),
        pl.col("sell_amount").sum().alias("sell"),
        pl.col("buy_amount").sum().alias("cost"),
        pl.col("buy_amount").null_count().alias("cost_unrated"),
    ).with_columns((pl.col("sell") - pl.col("cost")).alias("margin")).sort(list(by), nulls_last=True)
    out = []
    for row in groups.iter_rows(named=True):
        out.append({**{k: row[k] for k in by}, "calls": row["calls"],
                    "minutes": _minutes(row["billed_seconds"]),
                    "sell": money(row["sell"]), "cost": money(row["cost"]), "margin": money(row["margin"]),
                    "calls_without_cost": row["cost_unrated"]})
    return out


def _minutes(seconds: int | None) -> str:
    from decimal import ROUND_HALF_UP, Decimal

    return str((Decimal(seconds or 0) / 60).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
