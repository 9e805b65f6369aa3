"""The seam between the file formats and the conversion: a header and a frame of raw strings.

``text`` (CSV and other delimited text) and ``workbook`` (XLSX) each produce :class:`Table` values;
``convert`` turns a table into canonical rows. Problems are collected in a :class:`Problems`
list from boolean masks, so a million good rows cost no Python loop and only bad rows become
:class:`~lcr.errors.DeckProblem` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from lcr.decks.header import role_of
from lcr.errors import DeckProblem

# Frame columns of a Table: c0 .. c{n-1} (String, raw cells) and "line" (Int64).
LINE = "line"


def cell(i: int) -> str:
    return f"c{i}"


@dataclass
class Table:
    """One table of a deck: ``header`` names and ``rows`` of raw string cells with line numbers."""

    file: str  # the name used in messages ("deck.csv", "deck.xlsx sheet 'Rates'")
    header: list[str]
    rows: pl.DataFrame  # c0..c{n-1} String, line Int64
    header_line: int
    sheet: str | None = None
    preamble: list[str] = field(default_factory=list)  # text of the lines above the header
    notes: list[str] = field(default_factory=list)  # layout facts ("header on line 7", ...)
    warnings: list[str] = field(default_factory=list)
    problems: list[DeckProblem] = field(default_factory=list)  # found while reading (ragged rows...)
    removal: bool = False  # a code-removal table: codes become Closed rows


def blank_row_mask(frame: pl.DataFrame, width: int) -> pl.Expr:
    """True for rows whose cells are all null or whitespace."""
    if width == 0:
        return pl.lit(True)
    return pl.all_horizontal(
        [pl.col(cell(i)).is_null() | (pl.col(cell(i)).str.strip_chars() == "") for i in range(width)]
    )


def cut_at_blank(rows: pl.DataFrame, width: int) -> tuple[pl.DataFrame, pl.DataFrame, int | None]:
    """Split at the first blank row: ``(table, footer, blank_line)``; the footer is ignored text."""
    if rows.height == 0 or width == 0:
        return rows, rows, None
    first = pl.col(cell(0))
    # cheap pre-filter on the first cell, then the full test on the few candidates
    candidates = rows.with_row_index("_i").filter(first.is_null() | (first.str.strip_chars() == ""))
    blank = candidates.filter(blank_row_mask(candidates, width))["_i"].first() if candidates.height else None
    if blank is None:
        return rows, rows.head(0), None
    i = int(blank)  # type: ignore[arg-type]
    return rows.head(i), rows.slice(i + 1), int(rows[LINE][i])


class Problems:
    """Every bad cell of one deck, in file order."""

    def __init__(self) -> None:
        self.items: list[DeckProblem] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, file: str, line: int | None, column: str | None, value: str | None, message: str) -> None:
        self.items.append(DeckProblem(file, line, column, value, message))

    def extend(self, items: list[DeckProblem]) -> None:
        self.items.extend(items)

    def from_mask(
        self,
        frame: pl.DataFrame,
        mask: pl.Expr,
        value: pl.Expr | str,
        *,
        file: str,
        column: str | None,
        message: str | pl.Expr,
    ) -> None:
        """One problem per row where ``mask`` is true, quoting ``value`` at that row."""
        value_expr = pl.col(value) if isinstance(value, str) else value
        msg_expr = pl.lit(message) if isinstance(message, str) else message
        bad = frame.filter(mask.fill_null(False)).select(
            pl.col(LINE), value_expr.cast(pl.String).alias("_value"), msg_expr.alias("_message")
        )
        for line, val, msg in bad.iter_rows():
            self.items.append(DeckProblem(file, line, column, "" if val is None else val, msg))

    def sorted(self) -> list[DeckProblem]:
        return sorted(
            self.items,
            key=lambda p: (p.file, p.line if p.line is not None else -1, p.column or "", p.message),
        )


def hybrid(
    frame: pl.DataFrame,
    fast: dict[str, pl.Expr],
    fast_ok: pl.Expr,
    slow: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """Columns ``fast`` (name -> expression) where ``fast_ok``; the other rows go through ``slow``.

    ``fast`` covers the plain cells of a big canonical deck with cheap expressions; ``slow`` is
    the full parser (every form, every problem message) and sees only the rows the fast path
    could not vouch for. ``slow`` returns its rows in the same order with the ``fast`` columns
    and a ``_bad_<name>`` flag for each; the fast rows are never bad.
    """
    names = list(fast)
    frame = frame.with_columns(*(e.alias(n) for n, e in fast.items()), fast_ok.fill_null(False).alias("_fast"))
    flags = [f"_bad_{n}" for n in names]
    if frame["_fast"].all():
        return frame.with_columns(pl.lit(False).alias(f) for f in flags).drop("_fast")
    where = (~frame["_fast"]).arg_true()
    rest = slow(frame.filter(~pl.col("_fast")).drop(names))
    columns = []
    for name in names:
        columns.append(frame[name].scatter(where, rest[name].cast(frame[name].dtype)))
    for flag in flags:
        present = rest[flag] if flag in rest.columns else pl.Series(flag, [False] * rest.height)
        columns.append(pl.Series(flag, [False] * frame.height, dtype=pl.Boolean).scatter(where, present))
    return frame.with_columns(columns).drop("_fast")


def footer_rates(
    footer: pl.DataFrame, width: int, header: list[str], file: str, blank_line: int | None
) -> list[DeckProblem]:
    """Rows after the blank line that ends the table but look like rates: never drop them silently."""
    if footer.height == 0 or blank_line is None:
        return []
    code_cols = [i for i, h in enumerate(header) if role_of(h) in ("prefix", "country_code")]
    rate_cols = [i for i, h in enumerate(header) if role_of(h) == "rate"]
    if not code_cols or not rate_cols:
        return []
    c, r = cell(code_cols[0]), cell(rate_cols[0])
    looks = footer.head(10_000).filter(
        pl.col(c).str.strip_chars().str.contains(r"^\+?\d[\d ,;\-]*$")
        & pl.col(r).str.strip_chars().str.contains(r"^\d*[.,]?\d+$")
    )
    return [
        DeckProblem(file, line, None, None,
                    f"looks like a rate row after the blank line {blank_line} that ends the table; "
                    "remove the blank line (or the row)")
        for line in looks[LINE].to_list()
    ]


def by_distinct(
    frame: pl.DataFrame,
    source: str,
    outputs: list[str],
    parse: Callable[[pl.DataFrame, Problems], pl.DataFrame],
    problems: Problems,
    *,
    min_rows: int = 2_000,
) -> pl.DataFrame:
    """Run ``parse`` once per distinct value of ``source`` (dates: a million rows, a few dates).

    ``parse(frame, problems)`` adds ``outputs`` to a frame with ``source`` and ``line``. It sees
    the distinct values at their first line; its problems about a cell are then reported for
    every row holding that value, its column-level problems once.
    """
    if frame.height < min_rows:
        return parse(frame, problems)
    distinct = frame.group_by(source).agg(pl.col(LINE).min()).sort(LINE)
    if distinct.height * 4 > frame.height:
        return parse(frame, problems)
    scratch = Problems()
    parsed = parse(distinct, scratch)
    value_at = dict(zip(distinct[LINE].to_list(), distinct[source].to_list(), strict=True))
    messages: dict[str, str] = {}
    column: str | None = None
    for p in scratch.items:
        if p.line is None:
            problems.items.append(p)
        else:
            messages[value_at[p.line] or ""] = p.message
            column = p.column
    joined = frame.join(
        parsed.select(source, *outputs), on=source, how="left", nulls_equal=True, maintain_order="left"
    )
    if messages and scratch.items:
        src = pl.col(source).fill_null("")
        problems.from_mask(joined, src.is_in(list(messages)), src.str.strip_chars(), file=scratch.items[0].file,
                           column=column, message=src.replace_strict(messages, default="", return_dtype=pl.String))
    return joined
