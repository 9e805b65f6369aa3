"""Physical lines of a CSV file, split into fields for the whole file at once.

CDR files keep one record per line, so a line number is a physical line (1-based) and a
problem can point at it. Splitting is vectorised for the two usual shapes: lines without any
quote (``a,b,c``) and lines where every field is quoted (``"a","b","c"``, FreeSWITCH). Any other
line (doubled quotes, a quoted comma, mixed quoting as in Asterisk's ``Master.csv``) goes
through Python's ``csv`` module, one line at a time. Blank lines are skipped; a UTF-8 BOM
and CR line ends are removed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from lcr.cdrs.batch import CdrBatch, empty_frame, normalise


def read_lines(path: Path, data: bytes | None = None) -> pl.DataFrame:
    """``line`` (Int64, 1-based) and ``raw`` (String) of every non-blank line (of ``data``, the
    file's bytes, when the caller has read them already)."""
    data = path.read_bytes() if data is None else data
    expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    raw: pl.Series | None = None
    try:  # Polars' reader, one column per line (keeps blank lines as nulls, drops BOM and CR)
        raw = pl.read_csv(
            io.BytesIO(data), has_header=False, separator="\x1f", quote_char=None,
            infer_schema=False, new_columns=["raw"], encoding="utf8-lossy",
        ).to_series()
    except (pl.exceptions.PolarsError, ValueError):
        raw = None
    if raw is None or raw.len() != expected:  # a unit separator in a line, or an odd file
        text = data.decode("utf-8-sig", errors="replace")
        raw = pl.Series("raw", text.split("\n")[:expected], dtype=pl.String).str.strip_suffix("\r")
    return (
        pl.DataFrame({"raw": raw.alias("raw")})
        .with_row_index("line", offset=1)
        .with_columns(pl.col("line").cast(pl.Int64))
        .filter(pl.col("raw").is_not_null() & (pl.col("raw").str.strip_chars() != ""))
    )


def split_fields(lines: pl.DataFrame) -> pl.Series:
    """A ``List[String]`` of the fields of each line of ``read_lines`` output."""
    raw = pl.col("raw")
    inner = raw.str.slice(1, raw.str.len_chars() - 2)
    all_quoted = (
        raw.str.starts_with('"')
        & raw.str.ends_with('"')
        & (raw.str.len_chars() >= 2)
        & ~inner.str.replace_all('","', "", literal=True).str.contains('"', literal=True)
    )
    plain = ~raw.str.contains('"', literal=True)
    fields = lines.select(
        pl.when(plain)
        .then(raw.str.split(","))
        .when(all_quoted)
        .then(inner.str.split('","'))
        .alias("fields")
    ).to_series()
    rest = fields.is_null().arg_true()
    if rest.len():
        parsed = [next(csv.reader([line]), []) for line in lines["raw"].gather(rest).to_list()]
        slow = pl.DataFrame({"_i": rest, "_slow": pl.Series(parsed, dtype=pl.List(pl.String))})
        fields = (
            pl.DataFrame({"fields": fields})
            .with_row_index("_i")
            .join(slow, on="_i", how="left", maintain_order="left")
            .select(pl.coalesce("fields", "_slow"))
            .to_series()
        )
    return fields


def columns(lines: pl.DataFrame, fields: pl.Series, names: list[str]) -> pl.DataFrame:
    """``line``, ``raw``, ``nfields`` and one String column per name, by position."""
    return lines.with_columns(fields.alias("_f")).select(
        "line",
        "raw",
        nfields=pl.col("_f").list.len(),
        **{n: pl.col("_f").list.get(i, null_on_oob=True) for i, n in enumerate(names)},
    )


def read_switch_csv(
    path: Path,
    names: list[str],
    select: Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.Expr]],
    *,
    source_names: Mapping[str, str],
    switch_tz: str,
    carrier_aliases: Mapping[str, str],
    customer_aliases: Mapping[str, str],
) -> CdrBatch:
    """A softswitch's headerless CSV (fields ``names``), read line by line: ``select(fields)``
    gives the canonical text columns (with ``line`` and ``raw``) and the expression that rejects a
    line before parsing (its field count), then ``batch.normalise`` does the rest."""
    file = str(path)
    lines = read_lines(path)
    if lines.height == 0:
        return CdrBatch(empty_frame(), (), file)
    text, early = select(columns(lines, split_fields(lines), names))
    return normalise(
        text,
        file=file,
        source_names=source_names,
        local_tz=switch_tz,
        carrier_aliases=carrier_aliases,
        customer_aliases=customer_aliases,
        early=early,
    )
