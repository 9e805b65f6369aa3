"""The canonical CDR file (contract: "Canonical CDR"), as CSV with a header or as Parquet.

CSV: the header row is required and names the columns (any order; extra columns are
ignored): ``call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition``.
Times are ISO 8601, UTC unless an offset is given. An empty ``customer`` or ``carrier`` is
none. A line with another number of fields than the header is malformed.

Reading: a file without any quote, CR, NUL or BOM whose every line has as many fields as the
header (counted over the whole file) is read by Polars' CSV reader in one pass; any
other file goes through ``lcr.cdrs.lines`` line by line, so a malformed line is still reported
with its number and quarantined verbatim. Both give the same batch.

Parquet: the same column names; times may be ISO strings, epoch seconds (integers) or
datetimes (naive = UTC); ``line`` is the row number, 1-based.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from lcr.cdrs.batch import TEXT_COLUMNS, CdrBatch, empty_frame, normalise
from lcr.cdrs.lines import columns, read_lines, split_fields
from lcr.errors import CdrRejected

SAME_NAMES = {c: c for c in TEXT_COLUMNS}


def _missing(file: str, found: list[str]) -> None:
    missing = [c for c in TEXT_COLUMNS if c not in found]
    if missing:
        raise CdrRejected(
            f"{file}: not a canonical CDR file, the header lacks {', '.join(missing)} "
            f"(found {', '.join(found) or 'nothing'})"
        )


def _octets(data: bytes) -> pl.DataFrame:
    """``data`` as the UInt8 column ``b`` over the same memory (no copy; as a record batch,
    which Polars takes without loading ``pyarrow.compute``)."""
    import pyarrow as pa

    octets = pl.from_arrow(pa.record_batch([pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)])],
                                           names=["b"]))
    assert isinstance(octets, pl.DataFrame)
    return octets


def _plain_text(data: bytes, file: str) -> pl.DataFrame | None:
    """The body's text columns (``line``, ``raw`` null, ``nfields``, ``TEXT_COLUMNS``) when the
    file is plain: no quote, CR, NUL or BOM, and every line as many fields as the header (so no
    blank line either). None otherwise (the line-by-line reader then takes it)."""
    if not data or data.startswith((b"\n", b"\xef\xbb\xbf")):
        return None
    # the bytes that matter counted in one vectorised pass (bytes.count takes 50 ms per 100 MB)
    b = pl.col("b")
    counts = _octets(data).select(
        lines=(b == ord("\n")).sum(), commas=(b == ord(",")).sum(),
        odd=((b == ord('"')) | (b == ord("\r")) | (b == 0)).sum(),
    ).row(0, named=True)
    if counts["odd"]:
        return None
    first = data[: data.find(b"\n")] if b"\n" in data else data
    header = [h.strip().lower() for h in first.decode("utf-8", errors="replace").split(",")]
    if not first.strip() or len(set(header)) != len(header):
        return None
    _missing(file, header)
    try:
        text = pl.read_csv(
            io.BytesIO(data), has_header=True, new_columns=header, infer_schema=False, quote_char=None,
            empty_string_is_null=False, encoding="utf8",
        )
    except (pl.exceptions.PolarsError, ValueError):  # a line with more fields, invalid UTF-8
        return None
    rows = counts["lines"] - (1 if data.endswith(b"\n") else 0)
    # no line has more fields than the header (Polars raised), so equal totals mean none has
    # fewer (a blank line has none)
    if text.height != rows or counts["commas"] != (rows + 1) * (len(header) - 1):
        return None
    return text.select(
        pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("line"),
        pl.lit(None, pl.String).alias("raw"),
        pl.lit(len(header), pl.UInt32).alias("nfields"),
        *TEXT_COLUMNS,
    )


def _with_raw(batch: CdrBatch, data: bytes) -> CdrBatch:
    """The problems of a plain file with their lines as read (``raw``), cut out of ``data`` at
    its line breaks (found in one vectorised pass, only when there is a problem)."""
    if not batch.problems:
        return batch
    ends = (_octets(data).get_column("b") == ord("\n")).arg_true()  # line k (1-based) ends at ends[k - 1]

    def line(k: int) -> str:
        start = 0 if k == 1 else int(ends[k - 2]) + 1
        end = int(ends[k - 1]) if k - 1 < ends.len() else len(data)
        return data[start:end].decode("utf-8")

    problems = tuple(dataclasses.replace(p, raw=line(p.line)) if p.line is not None else p for p in batch.problems)
    return dataclasses.replace(batch, problems=problems)


def read_canonical_csv(
    path: Path, *, carrier_aliases: Mapping[str, str], customer_aliases: Mapping[str, str],
    on_call_ids: Callable[[pl.DataFrame], None] | None = None,
) -> CdrBatch:
    """``on_call_ids``: given the ``line`` and ``call_id`` text columns of a plain file as soon
    as its fields are split, before they are checked (a caller's head start; malformed lines
    included)."""
    file = str(path)
    data = path.read_bytes()
    plain = _plain_text(data, file)
    if plain is not None:
        if plain.height == 0:
            return CdrBatch(empty_frame(), (), file)
        if on_call_ids is not None:
            on_call_ids(plain.select("line", "call_id"))
        batch = normalise(
            plain, file=file, source_names=SAME_NAMES, local_tz="UTC",
            carrier_aliases=carrier_aliases, customer_aliases=customer_aliases,
        )
        return _with_raw(batch, data)
    lines = read_lines(path, data)
    if lines.height == 0:
        raise CdrRejected(f"{file}: empty file, a canonical CDR file starts with its header row")
    header = [h.strip().lower() for h in next(csv.reader([lines["raw"][0]]))]
    _missing(file, header)
    body = lines.slice(1)
    if body.height == 0:
        return CdrBatch(empty_frame(), (), file)
    text = columns(body, split_fields(body), header)
    early = pl.when(pl.col("nfields") != len(header)).then(
        pl.format("has {} fields, the header has " + str(len(header)), pl.col("nfields"))
    )
    return normalise(
        text.select("line", "raw", "nfields", *TEXT_COLUMNS),
        file=file,
        source_names=SAME_NAMES,
        local_tz="UTC",
        carrier_aliases=carrier_aliases,
        customer_aliases=customer_aliases,
        early=early,
    )


def read_canonical_parquet(
    path: Path, *, carrier_aliases: Mapping[str, str], customer_aliases: Mapping[str, str]
) -> CdrBatch:
    file = str(path)
    frame = pl.read_parquet(path)
    _missing(file, frame.columns)
    times = ("start_time", "answer_time", "end_time", "billsec")
    text = frame.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line"),
        pl.lit(None, pl.String).alias("raw"),
        *(pl.col(c) if c in times else pl.col(c).cast(pl.String) for c in TEXT_COLUMNS),
    )
    return normalise(
        text,
        file=file,
        source_names=SAME_NAMES,
        local_tz="UTC",
        carrier_aliases=carrier_aliases,
        customer_aliases=customer_aliases,
    )
