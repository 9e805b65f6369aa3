"""Date-times of CDR files, parsed for whole columns at once into epoch seconds (UTC).

Accepted: ``YYYY-MM-DD[T| ]HH:MM[:SS][.fraction][Z|±HH[:MM]|±HHMM]``. With an offset (or ``Z``)
the instant is exact; without one it is local time in the zone given (``UTC`` for canonical
files, the switch's zone for FreeSWITCH and Asterisk). A local time that occurs twice (the
autumn clock change) is taken as the earlier instant; one that never occurs (spring) is
invalid. Fractions of a second are dropped (CDR times are whole seconds). An empty cell gives
null, and so does an invalid one: the caller tells them apart.

Speed: cells of the canonical shape ``YYYY-MM-DDTHH:MM:SSZ`` are parsed with that one format;
the other cells with a suffix (offset, fraction) with fixed slices; only the rest (no seconds,
stray spaces, invalid) go through the full regular expression.
"""

from __future__ import annotations

import re

import polars as pl

_FULL = (
    r"^\s*(?<date>\d{4}-\d{2}-\d{2})[Tt ](?<hm>\d{2}:\d{2})(?::(?<sec>\d{2}))?(?:[.,]\d+)?"
    r"\s*(?<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_TAIL = r"^(?:[.,]\d+)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
_UTC_NAMES = ("UTC", "Z", "ETC/UTC", "GMT")
_ZULU = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_TAIL_RE = re.compile(_TAIL)


def _offset_seconds(tz: str) -> int:
    if tz in ("Z", "z"):
        return 0
    digits = tz.replace(":", "")
    seconds = int(digits[1:3]) * 3600 + int(digits[3:5] or "0") * 60
    return -seconds if digits.startswith("-") else seconds


def _epoch(naive: str, tz: str, local_tz: str, zones: list[str]) -> pl.Expr:
    """Epoch of the naive column, read as UTC minus its offset, or as local time without one."""
    utc = pl.col(naive).dt.epoch("s")
    if local_tz.upper() in _UTC_NAMES:
        local = utc
    else:
        local = (
            pl.col(naive).dt.replace_time_zone(local_tz, ambiguous="earliest", non_existent="null").dt.epoch("s")
        )
    offset = pl.col(tz).replace_strict(
        zones, [_offset_seconds(z) for z in zones], default=0, return_dtype=pl.Int64
    )
    return pl.when(pl.col(tz).is_null()).then(local).otherwise(utc - offset)


def parse_instants(text: pl.Series, local_tz: str = "UTC") -> pl.Series:
    """Epoch seconds (Int64) of each ISO 8601 date-time in ``text`` (null: empty or invalid)."""
    text = text.cast(pl.String)
    s = pl.col("s")
    zulu = pl.DataFrame({"s": text}).select(
        ok=s.str.contains(_ZULU).fill_null(False),
        epoch=s.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=False, time_unit="us", cache=False).dt.epoch("s"),
        empty=s.is_null() | (s == ""),
    )
    rest = (~zulu["ok"] & ~zulu["empty"]).arg_true()
    if rest.len() == 0:
        return zulu["epoch"].alias(text.name)
    epoch = zulu.select(pl.when("ok").then("epoch")).to_series()
    return epoch.scatter(rest, _parse_shapes(text.gather(rest), local_tz)).alias(text.name)


def _parse_shapes(text: pl.Series, local_tz: str) -> pl.Series:
    """``parse_instants`` for cells of any accepted shape."""
    s = pl.col("s")
    fast = (
        pl.DataFrame({"s": text.cast(pl.String)})
        .lazy()
        .with_columns(head=s.str.slice(0, 19), tail=s.str.slice(19), sep=s.str.slice(10, 1))
        .with_columns(
            naive=pl.when(pl.col("sep").is_in(["T", "t"]))
            .then(pl.col("head").str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us", cache=False))
            .when(pl.col("sep") == " ")
            .then(pl.col("head").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us", cache=False)),
        )
        .collect()
    )
    # The suffixes (fraction, offset) take few distinct values: read each once.
    tails = [t for t in fast["tail"].unique().to_list() if t is not None]
    zones = {t: m.group(1) for t in tails if (m := _TAIL_RE.match(t))}
    fast = fast.with_columns(
        tz=pl.col("tail").replace_strict(list(zones), list(zones.values()), default=None, return_dtype=pl.String),
        naive=pl.when(pl.col("tail").is_in(list(zones))).then(pl.col("naive")),
    )
    zone_names = sorted({z for z in zones.values() if z})
    fast = fast.with_columns(epoch=_epoch("naive", "tz", local_tz, zone_names))
    epoch = fast["epoch"]
    # Cells the fixed slices could not read: the full pattern, on those cells only.
    retry = (fast["naive"].is_null() & fast["s"].is_not_null() & (fast["s"] != "")).arg_true()
    if retry.len() == 0:
        return epoch
    parts = pl.col("p")
    slow = (
        pl.DataFrame({"s": fast["s"].gather(retry)})
        .with_columns(p=pl.col("s").str.extract_groups(_FULL))
        .with_columns(
            naive=pl.concat_str(
                parts.struct.field("date"), pl.lit(" "), parts.struct.field("hm"), pl.lit(":"),
                parts.struct.field("sec").fill_null("00"),
            ).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"),
            tz=parts.struct.field("tz"),
        )
    )
    zone_names = sorted(set(slow["tz"].drop_nulls().unique().to_list()))
    slow = slow.select(epoch=_epoch("naive", "tz", local_tz, zone_names))
    return epoch.scatter(retry, slow["epoch"])
