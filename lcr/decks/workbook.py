"""Workbook decks (XLSX, also XLS/ODS through the same reader): the rates sheet and a removal sheet.

Sheets are read with ``fastexcel`` (calamine). The rates sheet is the one whose header row scores
best (a profile's ``sheet`` names it); a sheet named like ``Cover`` never holds rates. A sheet
whose name contains "removal", "closed" or "deleted" is a code-removal sheet: its codes become
``Closed`` rows (a profile's ``removal_sheet`` names it, ``false`` ignores it).

Cell values become the strings a person sees: numbers in their shortest exact decimal form
(``0.0471``, never ``0.047100000000000003``: ``repr`` of the double, then ``Decimal``; float noise
beyond Excel's 15 displayed digits, as in formula results, is dropped), integral
numbers without ``.0``, real date cells as ISO datetimes (no day/month order to decide), and
Excel serial dates stay numbers (the date parser turns them into days after 1899-12-30).
Line numbers are the sheet's row numbers.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal
from pathlib import Path

import fastexcel
import polars as pl

from lcr.decks.header import find_header
from lcr.decks.profile import Profile
from lcr.decks.table import LINE, Table, cell, cut_at_blank, footer_rates
from lcr.errors import DeckRejected

EXCEL_DIGITS = 15
_REMOVAL = re.compile(r"remov|closed|delet|withdraw", re.IGNORECASE)
_COVER = re.compile(r"^(cover|readme|read me|notes?|info|instructions|contents)$", re.IGNORECASE)


def read_workbook(path: Path, file: str, profile: Profile) -> list[Table]:
    """The rates table, then the code-removal table if the workbook has one."""
    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # calamine raises several kinds
        raise DeckRejected(f"{file}: unreadable workbook: {exc}") from exc
    names = list(reader.sheet_names)
    grids = {}
    for name in names:
        if profile.sheet is not None and name != profile.sheet and not _is_removal(name, profile):
            continue
        grids[name] = _grid(reader, name)
    if profile.sheet is not None and profile.sheet not in grids:
        raise DeckRejected(f"{file}: no sheet {profile.sheet!r} (sheets: {', '.join(map(repr, names))})")
    candidates: list[tuple[int, int, str]] = []  # (score, -order, name)
    for order, (name, grid) in enumerate(grids.items()):
        if _is_removal(name, profile) or (_COVER.match(name.strip()) and profile.sheet != name):
            continue
        if profile.header_line is not None:
            candidates.append((1, -order, name))
            continue
        found = find_header(_rows_as_lists(grid, 60))
        if found is not None:
            candidates.append((found[1], -order, name))
    if not candidates:
        raise DeckRejected(
            f"{file}: not a rate deck: no sheet has a header row with a code and a rate column "
            f"(sheets: {', '.join(map(repr, names))})"
        )
    rates_sheet = max(candidates)[2]
    tables = [_table(reader, grids[rates_sheet], rates_sheet, file, profile, removal=False)]
    for name, grid in grids.items():
        if name != rates_sheet and _is_removal(name, profile):
            tables.append(_table(reader, grid, name, file, profile, removal=True))
        elif name != rates_sheet:
            # a cover sheet's text may name the currency ("currency USD")
            tables[0].preamble.extend(" ".join(r) for r in _rows_as_lists(grid, 20))
    return tables


def _is_removal(name: str, profile: Profile) -> bool:
    if profile.removal_sheet is False:
        return False
    if isinstance(profile.removal_sheet, str):
        return name == profile.removal_sheet
    return bool(_REMOVAL.search(name))


def _grid(reader: fastexcel.ExcelReader, name: str) -> pl.DataFrame:
    """The sheet as strings c0.. with the sheet's row number in ``line``."""
    # skip_rows=0 keeps the empty rows above the first used one, so row i is sheet row i + 1
    text = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string").to_polars()
    frame = text.rename({c: cell(i) for i, c in enumerate(text.columns)})
    return frame.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias(LINE))


def _exact_values(reader: fastexcel.ExcelReader, name: str, data: pl.DataFrame, skip: int) -> pl.DataFrame:
    """Replace number and date cells of the data rows by their exact text (see the module doc)."""
    typed = reader.load_sheet(name, header_row=None, skip_rows=skip).to_polars()
    if typed.height < data.height or typed.width < data.width - 1:
        return data
    typed = typed.head(data.height)
    out = []
    for i, col in enumerate(typed.columns[: data.width - 1]):
        y = typed[col]
        text = data[cell(i)]
        if y.dtype == pl.Float64:
            exact = _shortest_column(y)
        elif y.dtype == pl.Date:
            exact = y.dt.strftime("%Y-%m-%d")
        elif isinstance(y.dtype, pl.Datetime):
            exact = y.dt.strftime("%Y-%m-%dT%H:%M:%S")
        else:
            out.append(text.str.replace(r"^(-?\d+)\.0$", "$1"))
            continue
        out.append(pl.select(pl.coalesce(exact, text)).to_series().alias(cell(i)))
    return data.with_columns(out)


def _shortest_column(values: pl.Series) -> pl.Series:
    """:func:`_shortest` of each double, vectorised (Polars prints the shortest round-trip form)."""
    text = values.cast(pl.String).str.replace(r"\.0$", "")
    odd = text.str.contains("e", literal=True) | (text.str.count_matches(r"\d") > EXCEL_DIGITS)
    if bool(odd.any()):
        text = pl.Series([_shortest(v) for v in values.to_list()], dtype=pl.String)
    return text


def _shortest(value: float | None) -> str | None:
    """The decimal a person sees in the cell: the double's shortest round-trip form (``repr``),
    cut to the 15 significant digits Excel displays, which only drops the float noise of
    formula results (``0.1 + 0.2`` is ``0.3``); no exponent, no trailing ``.0``."""
    if value is None:
        return None
    exact = Decimal(repr(value))
    if len(exact.as_tuple().digits) > EXCEL_DIGITS:
        exact = Context(prec=EXCEL_DIGITS).plus(exact)
    text = format(exact, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rows_as_lists(grid: pl.DataFrame, n: int) -> list[list[str]]:
    width = grid.width - 1
    return [[v or "" for v in row[:width]] for row in grid.head(n).iter_rows()]


def _table(
    reader: fastexcel.ExcelReader,
    grid: pl.DataFrame, sheet: str, file: str, profile: Profile, *, removal: bool) -> Table:
    where = f"{file} sheet '{sheet}'"
    rows = _rows_as_lists(grid, 60)
    if profile.header_line is not None and not removal:
        hidx = next((i for i, r in enumerate(grid[LINE].to_list()) if r == profile.header_line), None)
        if hidx is None:
            raise DeckRejected(f"{where}: the profile's header_line {profile.header_line} is not a row of the sheet")
    else:
        found = find_header(rows, need_rate=not removal)
        if found is None:
            raise DeckRejected(f"{where}: no header row with a code column found in the first 50 rows")
        hidx = found[0]
    header = [h.strip() for h in rows[hidx]]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    header = header[:width]
    data = grid.slice(hidx + 1).select([cell(i) for i in range(width)] + [LINE])
    data = _exact_values(reader, sheet, data, hidx + 1)
    body, footer, blank_line = cut_at_blank(data, width)
    header_row = int(grid[LINE][hidx])
    notes = [f"sheet {sheet!r}: header on row {header_row}"]
    if blank_line is not None and footer.height:
        notes.append(f"rows after the blank row {blank_line} ignored")
    return Table(
        file=where,
        header=header,
        rows=body,
        header_line=header_row,
        sheet=sheet,
        preamble=[" ".join(r) for r in rows[:hidx]],
        notes=notes,
        problems=footer_rates(footer, width, header, where, blank_line),
        removal=removal,
    )
