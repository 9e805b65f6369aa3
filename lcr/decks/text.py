"""Delimited text decks (CSV, ``;``, tab, ``|``): encoding, delimiter, header row, data region.

Only the first lines are looked at in Python (to find the header and the delimiter); the data
region is handed to Polars as bytes and read with every column as String, so a million-row
canonical deck is one ``read_csv`` call.

- Encoding: a UTF-8 BOM is dropped; UTF-16 with a BOM is decoded; otherwise UTF-8, and only if
  that fails CP1252 (a superset of Latin-1's printable range) when it decodes cleanly and the text
  has no control characters. Anything else is "unreadable encoding".
- The table ends at its first blank line (a line of only delimiters or spaces is blank): what
  follows is a footer note and is ignored, unless a footer line looks like a rate row, which is
  a problem (a blank line inside the table would otherwise drop rates silently).
- Line numbers are physical lines of the file (1-based), counting newlines inside quoted cells.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import Any

import polars as pl

from lcr.decks.header import HEADER_SCAN_LINES, find_header
from lcr.decks.profile import Profile
from lcr.decks.table import LINE, Table, cell, cut_at_blank, footer_rates
from lcr.errors import DeckProblem, DeckRejected

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 256 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode(data: bytes, file: str, encoding: str | None = None) -> tuple[bytes, str]:
    """``(utf8_bytes, encoding_name)``: the file as UTF-8 without BOM, or DeckRejected."""
    if encoding is not None:
        try:
            return data.decode(encoding).lstrip("\ufeff").encode("utf-8"), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise DeckRejected(f"{file}: unreadable encoding: not {encoding} ({exc})") from exc
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
        name = "UTF-8 with BOM"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode("utf-8"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise DeckRejected(f"{file}: unreadable encoding: bad UTF-16 ({exc})") from exc
    else:
        name = "UTF-8"
    if data.isascii():
        if "\x00" in data[:SAMPLE_BYTES].decode("ascii"):
            raise DeckRejected(f"{file}: unreadable encoding: binary data, not a text deck")
        return data, "ASCII" if name == "UTF-8" else name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise DeckRejected(
                f"{file}: unreadable encoding: neither UTF-8 nor CP1252/Latin-1 "
                f"(byte 0x{data[exc.start]:02x} at offset {exc.start})"
            ) from None
        if _CONTROL.search(text):
            raise DeckRejected(
                f"{file}: unreadable encoding: not UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}) and not clean CP1252 text"
            ) from None
        return text.encode("utf-8"), "CP1252"
    if _CONTROL.search(text[: SAMPLE_BYTES]):
        raise DeckRejected(f"{file}: unreadable encoding: control characters, not a text deck")
    return data, name


def _sample_rows(sample: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """Logical CSV rows of the sample and the physical line (1-based) where each one ends."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    ends: list[int] = []
    try:
        for row in reader:
            rows.append(row)
            ends.append(reader.line_num)
            if len(rows) >= HEADER_SCAN_LINES + 1:
                break
    except csv.Error:
        pass
    return rows, ends


def _line_offset(data: bytes, line: int) -> int:
    """Byte offset of the start of physical line ``line`` (1-based)."""
    pos = 0
    for _ in range(line - 1):
        nxt = data.find(b"\n", pos)
        if nxt < 0:
            return len(data)
        pos = nxt + 1
    return pos


def _choose_header(sample: str, file: str, profile: Profile) -> tuple[str, list[list[str]], list[int], int]:
    """``(delimiter, rows, row_end_lines, header_index)``: the delimiter whose best header row
    scores highest (more fields break ties); with a pinned ``header_line``, the delimiter that
    splits that line into the most fields."""
    delimiters = (profile.delimiter,) if profile.delimiter else DELIMITERS
    best: tuple[tuple[int, int], str, list[list[str]], list[int], int] | None = None
    for delim in delimiters:
        rows, ends = _sample_rows(sample, delim)
        if profile.header_line is not None:
            idx = next((i for i, e in enumerate(ends) if e >= profile.header_line), None)
            rank = (0, len(rows[idx])) if idx is not None else None
        else:
            found = find_header(rows)
            idx, rank = (found[0], (found[1], len(rows[found[0]]))) if found else (None, None)
        if idx is not None and rank is not None and (best is None or rank > best[0]):
            best = (rank, delim, rows, ends, idx)
    if best is None:
        if profile.header_line is not None:
            raise DeckRejected(f"{file}: the profile's header_line {profile.header_line} is past the end of the file")
        raise DeckRejected(
            f"{file}: not a rate deck: no header row with a code and a rate column found in the first "
            f"{HEADER_SCAN_LINES} lines (tried delimiters {', '.join(repr(d) for d in delimiters)})"
        )
    return best[1], best[2], best[3], best[4]


def read_text(data: bytes, file: str, profile: Profile) -> Table:
    """The rate table of a delimited text deck (or DeckRejected)."""
    data, encoding = decode(data, file, profile.encoding)
    sample = data[:SAMPLE_BYTES].decode("utf-8", errors="replace")
    delim, rows, ends, hidx = _choose_header(sample, file, profile)
    width = len(rows[hidx])
    header = [h.strip() for h in rows[hidx]]
    header_end = ends[hidx]
    header_start = (ends[hidx - 1] + 1) if hidx > 0 else 1
    preamble = [delim.join(r) for r in rows[:hidx]]
    start = _line_offset(data, header_end + 1)
    region = data[start:]
    try:
        frame = _read_region(region, width, delim, header_end + 1)
    except DeckRejected as exc:
        raise DeckRejected(f"{file}: {exc.message}") from exc
    table_rows, footer, blank_line = cut_at_blank(frame, width)
    problems = _ragged(table_rows, width, file, header)
    problems += footer_rates(footer, width, header, file, blank_line)
    table_rows = table_rows.select([cell(i) for i in range(width)] + [LINE])
    notes = [f"header on line {header_start}", f"delimiter {delim!r}", f"encoding {encoding}"]
    if b"\r\n" in data[:SAMPLE_BYTES]:
        notes.append("CRLF line ends")
    if blank_line is not None and footer.height:
        notes.append(f"footer after line {blank_line} ignored")
    return Table(
        file=file,
        header=header,
        rows=table_rows,
        header_line=header_start,
        preamble=preamble,
        notes=notes,
        problems=problems,
    )


def _read_region(region: bytes, width: int, delim: str, first_line: int) -> pl.DataFrame:
    """The data lines as String columns c0..c{width} (one extra to catch too many fields)."""
    schema = {cell(i): pl.String for i in range(width + 1)}
    if not region.strip():
        return pl.DataFrame(schema=schema).with_columns(pl.lit(None, pl.Int64).alias(LINE))
    try:
        frame = _polars_csv(region, delim, schema)
    except pl.exceptions.PolarsError as exc:
        raise DeckRejected(f"cannot be parsed as delimited text: {str(exc).splitlines()[0]}") from exc
    return _with_lines(frame, region, first_line)


def _polars_csv(region: bytes, delim: str, schema: dict[str, Any]) -> pl.DataFrame:
    return pl.read_csv(
        region,
        has_header=False,
        separator=delim,
        quote_char='"',
        schema=schema,
        truncate_ragged_lines=True,
        missing_columns="insert",
        raise_if_empty=False,
    )


def _with_lines(frame: pl.DataFrame, region: bytes, first_line: int) -> pl.DataFrame:
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    if b'"' in region:
        # newlines inside quoted cells make one row span several physical lines
        spans = pl.sum_horizontal(
            [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in frame.columns]
        ).cast(pl.Int64)
        line = first_line + index + (spans.cum_sum() - spans)
    else:
        line = first_line + index
    return frame.with_columns(line.alias(LINE))


def _ragged(rows: pl.DataFrame, width: int, file: str, header: list[str]) -> list[DeckProblem]:
    extra = rows.filter(pl.col(cell(width)).is_not_null())
    return [
        DeckProblem(file, line, None, None,
                    f"has more fields than the {width} columns of the header (an unquoted list of codes?)")
        for line in extra[LINE].to_list()
    ]
