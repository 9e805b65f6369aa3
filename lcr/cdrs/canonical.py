"""The canonical CDR file (contract: "Canonical CDR"), as CSV with a header or as Parquet.

CSV: the header row is required and names the columns (any order; extra columns are
ignored): ``call_id,customer,carrier,src,dst,start_time,answer_time,end_time,billsec,disposition``.
Times are ISO 8601, UTC unless an offset is given. An empty ``customer`` or ``carrier`` is
none. A line with another number of fields than the header is malformed.

Parquet: the same column names; times may be ISO strings, epoch seconds (integers) or
datetimes (naive = UTC); ``line`` is the row number, 1-based.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
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


def read_canonical_csv(
    path: Path, *, carrier_aliases: Mapping[str, str], customer_aliases: Mapping[str, str]
) -> CdrBatch:
    file = str(path)
    lines = read_lines(path)
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
