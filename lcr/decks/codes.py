"""Code cells: lists, ranges, spaces and international prefixes, expanded to one row per code.

A code cell may hold a list (``49152, 49162``; ``234803; 234806``), codes with spaces inside
(``336 07`` is ``33607``), ranges (``447400-447409`` is ten codes: both ends must have the same
number of digits, the start must not be above the end, at most :data:`MAX_RANGE` codes), and a
leading ``+`` or ``00`` (stripped). An empty token inside a list (a trailing comma) is dropped;
an empty cell is a problem.

With a country code and an area code in two columns, the prefix is the country code followed by
each area code of the area cell (an empty area cell is the whole country). Area codes are kept as
written (no ``+``/``00`` stripping: a national trunk ``0`` is the vendor's to fix).

Everything is vectorised: ``str.split`` + ``explode`` for lists, ``int_ranges`` + ``explode`` for
ranges; the slow parts are skipped entirely when no cell needs them (a canonical deck).
"""

from __future__ import annotations

import polars as pl

from lcr.decks.table import Problems
from lcr.errors import DeckRejected

MAX_RANGE = 100_000
MAX_EXPANDED = 5_000_000  # all ranges of one deck together
MAX_DIGITS = 32
_INTL = r"^(?:\+|00)"
_RANGE = r"^([+\d]*)-([+\d]*)$"


def expand_codes(
    frame: pl.DataFrame,
    source: str,
    *,
    out: str,
    file: str,
    column: str,
    problems: Problems,
    strip_intl: bool = True,
    empty_ok: bool = False,
) -> pl.DataFrame:
    """Rows exploded to one per code of ``source`` in ``out`` (bad codes reported and dropped).

    ``empty_ok``: an empty cell yields one row with ``out`` = "" (an empty area code).
    """
    raw = pl.col(source).fill_null("")
    if bool(frame.select(raw.str.contains(r"^\s|\s$").any()).item()):
        raw = raw.str.strip_chars()
    frame = frame.with_columns(raw.alias("_cell"))
    empty = pl.col("_cell") == ""
    if not empty_ok and bool(frame.select(empty.any()).item()):
        problems.from_mask(frame, empty, "_cell", file=file, column=column, message="is empty (a code is required)")
        frame = frame.filter(~empty)
    cells = frame["_cell"]
    special = bool(cells.str.contains("[,;\\s\\-\u2013\u2014]").any())
    has_list = special and bool(cells.str.contains(r"[,;]").any())
    has_range = special and bool(cells.str.contains(r"[-\u2013\u2014]").any())
    has_space = special and bool(cells.str.contains(r"\s").any())
    tok = pl.col("_cell")
    if has_list:
        frame = (
            frame.with_columns(tok.str.replace_all(";", ",", literal=True).str.split(",").alias("_tok"))
            .explode("_tok")
            .with_columns(pl.col("_tok").str.strip_chars())
        )
        # "a, , b" or a trailing comma: drop the empty token unless the whole cell was empty
        frame = frame.filter((pl.col("_tok") != "") | (pl.col("_cell") == ""))
    else:
        frame = frame.with_columns(tok.alias("_tok"))
    t = pl.col("_tok")
    if has_range:
        frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_seq"))
    if has_space:
        frame = frame.with_columns(t.str.replace_all(r"\s+", ""))
    if has_range:
        frame = frame.with_columns(t.str.replace_all("[\u2013\u2014]", "-"))
        frame = _expand_ranges(frame, file=file, column=column, problems=problems, strip_intl=strip_intl)
    intl = strip_intl and bool(frame.select((t.str.starts_with("+") | t.str.starts_with("00")).any()).item())
    frame = frame.with_columns((t.str.replace(_INTL, "") if intl else t).alias(out))
    valid = pl.col(out).str.contains(f"^\\d{{1,{MAX_DIGITS}}}$")
    if empty_ok:
        valid = valid | (pl.col(out) == "")
    frame = frame.with_columns(valid.alias("_ok"))
    if bool(frame["_ok"].all()):
        return frame.drop("_cell", "_tok", "_ok")
    bad = frame.filter(~pl.col("_ok"))
    digits = pl.col(out).str.contains(r"^\d+$")
    problems.from_mask(
        bad,
        ~digits,
        "_tok",
        file=file,
        column=column,
        message=pl.when(pl.col("_tok").str.contains(r"^(?:\+|00)$"))
        .then(pl.lit("is not a code (nothing after the + or 00)"))
        .otherwise(pl.lit("is not a code (digits only, with an optional leading + or 00)")),
    )
    problems.from_mask(bad, digits, "_tok", file=file, column=column, message=f"is longer than {MAX_DIGITS} digits")
    return frame.filter(pl.col("_ok")).drop("_cell", "_tok", "_ok")


def _expand_ranges(
    frame: pl.DataFrame, *, file: str, column: str, problems: Problems, strip_intl: bool
) -> pl.DataFrame:
    """Tokens ``A-B`` become the codes A..B (same length, A <= B, at most MAX_RANGE)."""
    parts = pl.col("_tok").str.extract_groups(_RANGE)
    frame = frame.with_columns(
        pl.col("_tok").str.contains("-", literal=True).alias("_is_range"),
        parts.struct.field("1").alias("_lo"),
        parts.struct.field("2").alias("_hi"),
    )
    if strip_intl:
        frame = frame.with_columns(pl.col("_lo").str.replace(_INTL, ""), pl.col("_hi").str.replace(_INTL, ""))
    lo, hi = pl.col("_lo"), pl.col("_hi")
    is_range = pl.col("_is_range")
    shape_ok = lo.str.contains(r"^\d+$") & hi.str.contains(r"^\d+$")
    same_len = lo.str.len_chars() == hi.str.len_chars()
    fits = lo.str.len_chars() <= 18
    lo_i = pl.when(shape_ok & same_len & fits).then(lo).cast(pl.Int64, strict=False)
    hi_i = pl.when(shape_ok & same_len & fits).then(hi).cast(pl.Int64, strict=False)
    count = hi_i - lo_i + 1
    checks: list[tuple[pl.Expr, str]] = [
        (~shape_ok, "is not a code range (digits-digits, e.g. 447400-447409)"),
        (shape_ok & ~same_len, "is a range whose ends have different lengths"),
        (shape_ok & same_len & ~fits, "is a range with ends longer than 18 digits"),
        (shape_ok & same_len & fits & (count < 1), "is a reversed range (start above end)"),
        (shape_ok & same_len & fits & (count > MAX_RANGE), f"is a range of more than {MAX_RANGE:,} codes"),
    ]
    bad = pl.lit(False)
    for mask, message in checks:
        problems.from_mask(frame, is_range & mask, "_tok", file=file, column=column, message=message)
        bad = bad | mask
    frame = frame.filter(~(is_range & bad.fill_null(True)))
    singles = frame.filter(~is_range).drop("_is_range", "_lo", "_hi")
    ranges = frame.filter(is_range)
    if ranges.height == 0:
        return singles.drop("_seq")
    total = int(ranges.select((hi_i - lo_i + 1).sum()).item())
    if total > MAX_EXPANDED:
        raise DeckRejected(f"{file}: the ranges in column '{column}' expand to {total:,} codes "
                           f"(more than {MAX_EXPANDED:,}); split the deck")
    width = pl.col("_lo").str.len_chars()
    expanded = (
        ranges.with_columns(pl.int_ranges(lo_i, hi_i + 1).alias("_n"), width.alias("_w"))
        .explode("_n")
        .with_columns(pl.col("_n").cast(pl.String).str.zfill(pl.col("_w")).alias("_tok"))
        .drop("_is_range", "_lo", "_hi", "_n", "_w")
    )
    # keep file order: ranges and single codes interleaved as in the cells
    return pl.concat([singles, expanded]).sort("_seq", maintain_order=True).drop("_seq")
