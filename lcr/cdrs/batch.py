"""What a CDR reader returns: a normalised frame, and every line it could not take.

``CdrBatch.frame`` has ``CDR_SCHEMA``; each row is one well-formed line, in file order, with
its physical ``line`` number (1-based, header included). Every malformed line is left out of
the frame and reported once in ``CdrBatch.problems`` (its first bad column, the value, why,
and the raw text of the line so the caller can quarantine it verbatim). ``warnings`` are about
lines that *are* in the frame, e.g. a ``call_id`` repeated within the file: the reader keeps
both rows (deduplication is the store's job, by ``call_id``) and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from lcr.cdrs.times import parse_instants
from lcr.errors import Problem

CDR_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "call_id": pl.String(),
    "customer": pl.String(),  # null: none
    "carrier": pl.String(),  # null: none (the cost side stays unrated)
    "src": pl.String(),
    "dst": pl.String(),
    "start_time": pl.Int64(),  # epoch seconds, UTC
    "answer_time": pl.Int64(),  # null: not answered
    "end_time": pl.Int64(),  # null: unknown
    "billsec": pl.Int64(),
    "disposition": pl.String(),  # ANSWERED | NO ANSWER | BUSY | FAILED
}
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
TEXT_COLUMNS = tuple(c for c in CDR_SCHEMA if c != "line")


@dataclass(frozen=True, slots=True)
class CdrProblem(Problem):
    """One malformed (or, in ``warnings``, noteworthy) line of a CDR file, with the line as read
    (``raw``, kept verbatim in quarantine; not part of ``to_json``)."""

    raw: str | None = None


@dataclass(frozen=True, slots=True)
class CdrBatch:
    frame: pl.DataFrame
    problems: tuple[CdrProblem, ...]
    file: str
    warnings: tuple[CdrProblem, ...] = ()
    # the lines of the frame's rows whose call_id an earlier row has (None: not looked for)
    repeated_lines: tuple[int, ...] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def empty_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=CDR_SCHEMA)


def normalise(
    text: pl.DataFrame,
    *,
    file: str,
    source_names: Mapping[str, str],
    local_tz: str,
    carrier_aliases: Mapping[str, str],
    customer_aliases: Mapping[str, str],
    early: pl.Expr | None = None,
) -> CdrBatch:
    """Check and convert a frame of text fields (``line``, ``raw`` and ``TEXT_COLUMNS``).

    ``source_names`` names each canonical column as the file does (for messages); ``early``
    is a problem message found by the format reader (e.g. a wrong field count), checked first.
    Times without an offset are local time in ``local_tz``.
    """
    s = pl.col
    schema = text.schema

    def is_text(c: str) -> bool:
        return schema[c] == pl.String

    def instant(c: str) -> pl.Expr | pl.Series:
        dtype = schema[c]
        if dtype == pl.String:
            return parse_instants(text.get_column(c), local_tz)
        if isinstance(dtype, pl.Datetime):  # naive means UTC
            return s(c).dt.epoch("s") if dtype.time_zone else s(c).dt.replace_time_zone("UTC").dt.epoch("s")
        return s(c).cast(pl.Int64, strict=False)

    # the text fields kept, stripped, under names of their own: each is stripped once
    kept = ("call_id", "customer", "carrier", "src", "dst")
    stripped = {c: f"_{c}" for c in kept}
    blank = {
        c: s(stripped[c]).is_null() | (s(stripped[c]) == "") if c in stripped
        else s(c).is_null() | (s(c).str.strip_chars() == "") if is_text(c) else s(c).is_null()
        for c in TEXT_COLUMNS
    }
    billsec = s("billsec").str.strip_chars() if is_text("billsec") else s("billsec")
    # a few distinct dispositions: each spelling read once, then looked up
    spellings = text.get_column("disposition").unique()
    disp = pl.DataFrame({"v": spellings}).select(
        pl.col("v").str.strip_chars().str.to_uppercase().str.replace_all("_", " ", literal=True)).to_series()
    parsed = text.lazy().with_columns(
        *(s(c).str.strip_chars().alias(name) for c, name in stripped.items()),
        _start=instant("start_time"),
        _answer=instant("answer_time"),
        _end=instant("end_time"),
        _billsec=billsec.cast(pl.Int64, strict=False),
        _disp=s("disposition").replace_strict(spellings, disp, return_dtype=pl.String),
    )
    # (column, problem) in column order: the first that applies is the line's problem.
    checks: list[tuple[str, pl.Expr, str]] = [
        ("call_id", blank["call_id"], "is empty"),
        ("dst", blank["dst"], "is empty"),
        ("start_time", blank["start_time"], "is empty"),
        ("start_time", s("_start").is_null(), "is not a date-time"),
        ("answer_time", ~blank["answer_time"] & s("_answer").is_null(), "is not a date-time"),
        ("end_time", ~blank["end_time"] & s("_end").is_null(), "is not a date-time"),
        ("billsec", s("_billsec").is_null() | (s("_billsec") < 0), "is not a whole number of seconds"),
        ("disposition", ~s("_disp").is_in(list(DISPOSITIONS)), f"is not one of {', '.join(DISPOSITIONS)}"),
    ]
    column: pl.Expr = pl.lit(None, pl.String)
    message: pl.Expr = pl.lit(None, pl.String)
    if early is not None:
        column = pl.when(early.is_not_null()).then(pl.lit(None, pl.String)).otherwise(column)
    for name, bad, why in reversed(checks):
        column = pl.when(bad).then(pl.lit(name)).otherwise(column)
        message = pl.when(bad).then(pl.lit(why)).otherwise(message)
    if early is not None:
        message = pl.when(early.is_not_null()).then(early).otherwise(message)
    checked = parsed.with_columns(_column=column, _message=message).collect()

    clean = checked.get_column("_message").null_count() == checked.height
    bad_rows = checked.clear() if clean else checked.filter(s("_message").is_not_null())
    problems = tuple(_problem(file, row, source_names) for row in bad_rows.iter_rows(named=True))

    def party(col: str, aliases: Mapping[str, str]) -> pl.Expr:
        value = pl.when(s(stripped[col]) == "").then(None).otherwise(s(stripped[col]))
        if aliases:
            value = value.replace(dict(aliases))
        return value.alias(col)

    good = checked.lazy() if clean else checked.lazy().filter(s("_message").is_null())
    frame = (
        good.select(
            s("line").cast(pl.Int64),
            s("_call_id").alias("call_id"),
            party("customer", customer_aliases),
            party("carrier", carrier_aliases),
            s("_src").fill_null("").alias("src"),
            s("_dst").alias("dst"),
            s("_start").alias("start_time"),
            s("_answer").alias("answer_time"),
            s("_end").alias("end_time"),
            s("_billsec").alias("billsec"),
            s("_disp").alias("disposition"),
        )
        .collect()
    )
    warnings, repeated = _repeats(frame, file)
    return CdrBatch(frame, problems, file, warnings, repeated)


def _problem(file: str, row: dict, source_names: Mapping[str, str]) -> CdrProblem:
    col = row["_column"]
    value = row[col] if col is not None else None
    value = None if value is None else str(value)
    column = source_names.get(col, col) if col else None
    return CdrProblem(file, row["line"], column, value, row["_message"], row["raw"])


def _repeats(frame: pl.DataFrame, file: str) -> tuple[tuple[CdrProblem, ...], tuple[int, ...]]:
    """A warning for each line whose ``call_id`` already appeared earlier in the file, and those
    lines (the store drops them by number instead of hashing every call_id again)."""
    if frame.height == 0:
        return (), ()
    ids = frame.select("line", "call_id")
    later = ids.filter(~pl.col("call_id").is_first_distinct())  # one hashing pass; usually few rows
    if later.height == 0:
        return (), ()
    # lines ascend with the rows, so the first line of a call_id is its first row
    first = ids.filter(pl.col("call_id").is_in(later["call_id"].implode())).group_by("call_id").agg(
        pl.col("line").min().alias("first"))
    rep = later.join(first, on="call_id", how="left").sort("line")
    warnings = tuple(
        CdrProblem(file, line, "call_id", cid, f"repeats line {first}; both kept (the store keeps one)")
        for line, cid, first in rep.iter_rows()
    )
    return warnings, tuple(later.get_column("line").to_list())
