"""Export the rates in force at an instant as a canonical CSV deck (contract: "Canonical rate deck")."""

from __future__ import annotations

import io

import polars as pl
from sqlalchemy import Engine

from lcr.model import OwnerKind
from lcr.store.parties import owner_id
from lcr.store.rates import load_versions

CANONICAL_HEADER = (
    "prefix", "destination", "rate", "effective_date", "end_date",
    "first_interval", "next_interval", "connect_fee", "change",
)


def _decimal_text(col: str) -> pl.Expr:
    """Micro-units -> shortest exact decimal text (``12300`` -> ``0.0123``, ``0`` -> ``0``)."""
    c = pl.col(col)
    whole = (c // 1_000_000).cast(pl.String)
    frac = (c % 1_000_000).cast(pl.String).str.zfill(6).str.strip_chars_end("0")
    return pl.when(frac == "").then(whole).otherwise(whole + "." + frac)


def _date_text(col: str) -> pl.Expr:
    t = pl.from_epoch(pl.col(col), time_unit="s")
    midnight = (pl.col(col) % 86_400) == 0
    return pl.when(pl.col(col).is_null()).then(None).when(midnight).then(t.dt.strftime("%Y-%m-%d")).otherwise(
        t.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def export_frame(versions: pl.DataFrame) -> pl.DataFrame:
    return versions.sort("prefix").select(
        "prefix",
        "destination",
        _decimal_text("rate").alias("rate"),
        _date_text("effective_from").alias("effective_date"),
        _date_text("effective_to").alias("end_date"),
        "first_interval",
        "next_interval",
        _decimal_text("connect_fee").alias("connect_fee"),
        pl.when(pl.col("blocked")).then(pl.lit("Blocked")).otherwise(None).alias("change"),
    )


def export_deck(engine: Engine, kind: OwnerKind, name: str, at: int) -> str:
    with engine.connect() as conn:
        versions = load_versions(conn, kind, owner_id(conn, kind, name), at=at)
    buf = io.StringIO()
    frame = export_frame(versions)
    buf.write(",".join(CANONICAL_HEADER) + "\n")
    if not frame.is_empty():
        buf.write(frame.write_csv(include_header=False, quote_style="necessary"))
    return buf.getvalue()
