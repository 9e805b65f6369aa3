"""``read_deck``: any vendor rate-deck file to one canonical Polars frame, or every problem at once.

    file ──► text.read_text / workbook.read_workbook ──► Table(s) of raw strings
         ──► convert.convert (codes, money, increments, dates) ──► canonical rows
         ──► duplicates, currency ──► ParsedDeck   (or DeckRejected listing every problem)

Pure: no database, no network. The importer (``lcr.decks.plan`` and ``lcr.store``) decides what
the rows change.

Duplicates: the same code twice for the same effective date with the same values is merged (a
warning names the lines); with different values it is a problem naming both lines. When only the
destination name differs, the first row is kept with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from lcr.decks.convert import CANONICAL_SCHEMA, Converted, convert, empty_frame
from lcr.decks.header import preamble_currency
from lcr.decks.profile import AUTO, Profile, load_profile
from lcr.decks.table import Problems, Table
from lcr.decks.text import read_text
from lcr.decks.workbook import read_workbook
from lcr.errors import DeckRejected
from lcr.money import format_micro

_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
_VALUES = ("rate", "connect_fee", "first_interval", "next_interval", "effective_to", "change")


@dataclass(frozen=True)
class ParsedDeck:
    """A deck read and validated: one row per code (schema: ``lcr.decks.convert.CANONICAL_SCHEMA``)."""

    file: str
    frame: pl.DataFrame
    currency: str | None
    layout: str
    warnings: tuple[str, ...]


def read_deck(
    path: str | Path,
    *,
    profile: str | Profile | None = None,
    profiles_dir: Path | None = None,
) -> ParsedDeck:
    """Read a deck file (CSV/text or XLSX). Raises DeckRejected listing every bad cell."""
    path = Path(path)
    file = path.name
    prof = _resolve(profile, profiles_dir)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeckRejected(f"{file}: cannot be read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DeckRejected(f"{file}: the file is empty")
    is_workbook = data.startswith(_WORKBOOK_MAGIC)
    tables = read_workbook(path, file, prof) if is_workbook else [read_text(data, file, prof)]
    problems = Problems()
    converted: list[Converted] = []
    for table in tables:
        problems.extend(table.problems)
        converted.append(convert(table, prof, problems))
    frame = pl.concat([c.frame for c in converted]) if converted else empty_frame()
    warnings = [w for c in converted for w in c.warnings]
    notes = [n for c in converted for n in c.notes]
    frame, dup_warnings = _duplicates(frame, tables, problems)
    warnings += dup_warnings
    currency = _currency(prof, tables, converted, file, problems)
    if problems:
        items = problems.sorted()
        raise DeckRejected(f"{file}: {len(items)} problem{'s' if len(items) != 1 else ''}; nothing imported", items)
    if frame.height == 0:
        raise DeckRejected(f"{file}: no rate rows found")
    if prof.name != "auto":
        notes.insert(0, f"profile {prof.name!r}")
    return ParsedDeck(
        file=file,
        frame=frame.select(list(CANONICAL_SCHEMA)),
        currency=currency,
        layout=", ".join(notes),
        warnings=tuple(warnings),
    )


def _resolve(profile: str | Profile | None, profiles_dir: Path | None) -> Profile:
    if profile is None:
        return AUTO
    if isinstance(profile, Profile):
        return profile
    return load_profile(profile, profiles_dir)


def _currency(
    prof: Profile, tables: list[Table], converted: list[Converted], file: str, problems: Problems
) -> str | None:
    """The profile's currency, else the deck's own; any disagreement is a (deck-level) problem."""
    found: dict[str, str] = {}
    for c in converted:
        found.update(c.currencies)
    mentioned: set[str] = set()
    for t in tables:
        named, weak = preamble_currency(t.preamble)
        if named:
            found[f"{t.file}: text above the header"] = named
        if weak:
            mentioned.add(weak)
    if not found and len(mentioned) == 1:
        found["the text above the header"] = mentioned.pop()
    distinct = set(found.values())
    if prof.currency is not None:
        clash = {where: cur for where, cur in found.items() if cur != prof.currency}
        if clash:
            where, cur = next(iter(clash.items()))
            problems.add(file, None, None, None, f"the profile says {prof.currency} but the deck says {cur} ({where})")
        return prof.currency
    if len(distinct) > 1:
        listing = "; ".join(f"{cur} ({where})" for where, cur in found.items())
        problems.add(file, None, None, None, f"the deck names several currencies: {listing}")
        return None
    return distinct.pop() if distinct else None


def _day(ts: int | None) -> str:
    if ts is None:
        return "no effective date"
    d = datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y-%m-%d") if ts % 86_400 == 0 else d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duplicates(
    frame: pl.DataFrame, tables: list[Table], problems: Problems
) -> tuple[pl.DataFrame, list[str]]:
    """Merge repeats of a row (same code, date and values); report codes repeated with other values.

    Vectorised: repeats are found with ``is_first_distinct`` over the values; only the conflicts
    (rejected anyway) and the first few repeats (for the warning) are looked at row by row.
    """
    key = ["prefix", "effective_from"]
    # distinct hashes prove there is no repeat (a hash collision only costs the exact check below)
    if frame.height == 0 or frame.select(pl.struct(key).hash().n_unique()).item() == frame.height:
        return frame, []
    if not frame.select(pl.struct(key).is_duplicated().any()).item():
        return frame, []
    files = {t.sheet: t.file for t in tables}
    values = [*key, *_VALUES]
    frame = frame.with_row_index("_pos")
    first_of_values = frame.select(pl.struct(values).is_first_distinct()).to_series()
    repeats = frame.filter(~first_of_values)
    kept = frame.filter(first_of_values)
    warnings: list[str] = []
    if repeats.height:
        firsts = kept.select(*values, pl.col("line").alias("_line0"), pl.col("sheet").alias("_sheet0"),
                             pl.col("destination").alias("_dest0"))
        sample = repeats.join(firsts, on=values, how="left", nulls_equal=True, maintain_order="left")
        renamed_mask = pl.col("destination") != pl.col("_dest0")
        for mask, text in ((~renamed_mask, "identical duplicate rows merged"),
                           (renamed_mask, "duplicate rows differing only in destination name, first kept")):
            part = sample.filter(mask)
            if part.height:
                items = [f"{r['prefix']} ({_where(files, r['_sheet0'], r['_line0'], r['sheet'], r['line'])})"
                         for r in part.head(10).iter_rows(named=True)]
                more = f" and {part.height - 10} more" if part.height > 10 else ""
                warnings.append(f"{text}: {', '.join(items)}{more}")
    conflicts = kept.filter(pl.struct(key).is_duplicated())
    for _, group in conflicts.group_by(key, maintain_order=True):
        rows = group.sort("_pos").to_dicts()
        first = rows[0]
        for other in rows[1:]:
            diff = [c for c in _VALUES if first[c] != other[c]]
            if "rate" in diff:
                what, detail = "two different rates", f" ({_money(first['rate'])} and {_money(other['rate'])})"
            else:
                what, detail = "different " + ", ".join(diff), ""
            where = _where(files, first["sheet"], first["line"], other["sheet"], other["line"])
            problems.add(
                files.get(other["sheet"], ""), other["line"], None, None,
                f"duplicate code {first['prefix']} with {what} on {_day(first['effective_from'])}: {where}{detail}",
            )
    return kept.drop("_pos"), warnings


def _where(files: dict[str | None, str], sheet_a: str | None, line_a: int, sheet_b: str | None, line_b: int) -> str:
    if sheet_a == sheet_b:
        return f"lines {line_a} and {line_b}"
    return f"{files.get(sheet_a)} line {line_a} and {files.get(sheet_b)} line {line_b}"


def _money(micro: int | None) -> str:
    return "no rate" if micro is None else format_micro(micro).rstrip("0").rstrip(".")
