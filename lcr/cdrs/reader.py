"""``read_cdrs``: one entry point for every CDR file shape, chosen by name or detected."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import polars as pl

from lcr.cdrs import asterisk, canonical, freeswitch
from lcr.cdrs.batch import CdrBatch
from lcr.errors import CdrRejected

Format = Literal["canonical", "freeswitch", "asterisk", "parquet"]
FORMATS: tuple[str, ...] = ("canonical", "freeswitch", "asterisk", "parquet")


def detect_format(path: Path) -> Format:
    """By extension (``.parquet``), else by the first non-blank line: a header naming
    ``call_id`` is canonical, 15 fields all quoted is FreeSWITCH, 16-18 fields is Asterisk."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    with path.open("rb") as fh:
        head = fh.read(64 * 1024).decode("utf-8-sig", errors="replace")
    first = next((line for line in head.splitlines() if line.strip()), "")
    fields = next(csv.reader([first]), [])
    if "call_id" in (f.strip().lower() for f in fields):
        return "canonical"
    if len(fields) == len(freeswitch.FIELDS) and first.startswith('"') and first.rstrip().endswith('"'):
        return "freeswitch"
    if 16 <= len(fields) <= 18:
        return "asterisk"
    raise CdrRejected(
        f"{path}: cannot tell the CDR format from its first line ({len(fields)} fields); "
        f"give it: {', '.join(FORMATS)}"
    )


def read_cdrs(
    path: str | Path,
    *,
    format: Format | None = None,
    switch_tz: str = "UTC",
    carrier_aliases: Mapping[str, str] | None = None,
    customer_aliases: Mapping[str, str] | None = None,
    on_call_ids: Callable[[pl.DataFrame], None] | None = None,
) -> CdrBatch:
    """Read a CDR file into a normalised frame plus one problem per malformed line.

    ``format``: ``canonical`` (CSV, or Parquet by extension), ``freeswitch``, ``asterisk``,
    ``parquet``, or None to detect. ``switch_tz`` is the zone of the switch's local times
    (FreeSWITCH, Asterisk); canonical times are UTC unless they carry an offset.
    ``carrier_aliases`` maps a switch peer name to a carrier, ``customer_aliases`` an account
    code to a customer. ``on_call_ids`` is given the ``line`` and ``call_id`` text columns as
    soon as a canonical CSV file's fields are split, before they are checked (the PostgreSQL
    import starts storing the keys then); other files do not call it. Raises ``CdrRejected``
    when the file as a whole is not readable as that format (no canonical header, unknown
    shape); bad lines never raise.
    """
    p = Path(path)
    if not p.is_file():
        raise CdrRejected(f"{p}: no such file")
    fmt = format or detect_format(p)
    if fmt == "canonical" and p.suffix.lower() in (".parquet", ".pq"):
        fmt = "parquet"
    names = {"carrier_aliases": carrier_aliases or {}, "customer_aliases": customer_aliases or {}}
    if fmt == "canonical":
        return canonical.read_canonical_csv(p, **names, on_call_ids=on_call_ids)
    if fmt == "parquet":
        return canonical.read_canonical_parquet(p, **names)
    if fmt == "freeswitch":
        return freeswitch.read_freeswitch(p, switch_tz=switch_tz, **names)
    if fmt == "asterisk":
        return asterisk.read_asterisk(p, switch_tz=switch_tz, **names)
    raise CdrRejected(f"unknown CDR format {fmt!r}; one of {', '.join(FORMATS)}")
