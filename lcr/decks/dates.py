"""Date cells to epoch seconds (UTC), vectorised, with the day/month order decided per column.

Accepted forms:

- ISO: ``2026-11-01``, ``2026/11/01``, ``20261101``, ``2026-11-01T08:00:00``, ``2026-11-01 08:00``,
  with an optional offset (``Z``, ``+02:00``, ``-0500``); no offset means UTC.
- Day/month forms: ``16/11/2026``, ``16.11.2026``, ``16-11-2026``, ``11/20/2026``, with an optional
  ``HH:MM[:SS]`` time. Whether the first field is the day or the month is decided for the whole
  column from its values: a first field above 12 proves day-first, a second field above 12 proves
  month-first; both in one column is an error; neither (and some value where it matters, such as
  ``02/11/2026``) is an error asking for a profile with ``date_order``. A profile's ``date_order``
  pins the order (values that contradict it are then invalid dates).
- Excel serial dates: a number such as ``46327`` (or ``46327.5``, noon) is days after 1899-12-30.
- ``Immediate``, ``Immediately``, ``Now``, ``ASAP``: no date (in force from the received date).

Epoch days are computed from (year, month, day) with integer arithmetic (days-from-civil), after
checking the day exists in its month, so no invalid value ever reaches a date constructor.
"""

from __future__ import annotations

import polars as pl

from lcr.decks.table import LINE, Problems, by_distinct, hybrid

_ISO = (
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_BASIC = r"^(\d{4})(\d{2})(\d{2})$"
_DM = r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
_SERIAL = r"^(\d{1,6})(\.\d+)?$"
_IMMEDIATE = r"(?i)^(?:immediate(?:ly)?|with immediate effect|now|asap)$"
EXCEL_EPOCH_DAYS = -25_569  # 1899-12-30 in days since 1970-01-01
MIN_SERIAL = 18_264  # 1950-01-01: a smaller number in a date column is not a date
DAY = 86_400


class DateColumnError(ValueError):
    """The column's day/month order cannot be decided (or is contradictory)."""


def _days_from_civil(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    yy = y - (m <= 2).cast(pl.Int64)
    era = yy // 400
    yoe = yy - era * 400
    mp = pl.when(m > 2).then(m - 3).otherwise(m + 9)
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _days_in_month(y: pl.Expr, m: pl.Expr) -> pl.Expr:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return (
        pl.when(m == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(m.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )


def _int(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Int64, strict=False)


def parse_dates(
    frame: pl.DataFrame,
    source: str,
    out: str,
    *,
    file: str,
    column: str,
    problems: Problems,
    order: str | None,
    pinned_by: str = "profile",
) -> tuple[pl.DataFrame, str | None]:
    """Epoch seconds of ``source`` in ``out`` (null for empty cells); returns (frame, layout note).

    ``order`` pins day/month order (``pinned_by`` says who, for the note). Bad cells are
    problems; an undecidable column is one problem naming the column. Plain
    ``YYYY-MM-DD`` cells take a fast path; the other forms go through the full parser.
    """
    raw = pl.col(source)
    empty = raw.is_null() | (raw == "")
    day = raw.str.to_date("%Y-%m-%d", strict=False)
    fast_value = pl.when(empty).then(pl.lit(None, pl.Int64)).otherwise(day.cast(pl.Int64) * DAY)
    fast_ok = empty | (day.is_not_null() & (raw.str.len_bytes() == 10))
    notes: list[str | None] = []

    def parse(rows: pl.DataFrame, found: Problems) -> pl.DataFrame:
        rows, note = _parse_slow(rows, source, out, file=file, column=column, problems=found, order=order)
        notes.append(note)
        return rows

    def slow(rest: pl.DataFrame) -> pl.DataFrame:
        return by_distinct(rest, source, [out, f"_bad_{out}"], parse, problems)

    frame = hybrid(frame, {out: fast_value}, fast_ok, slow)
    return frame, next((n for n in notes if n), f"{order}-ordered dates in '{column}' ({pinned_by})" if order else None)


def _parse_slow(
    frame: pl.DataFrame,
    source: str,
    out: str,
    *,
    file: str,
    column: str,
    problems: Problems,
    order: str | None,
) -> tuple[pl.DataFrame, str | None]:
    """Every accepted date form, the day/month order decision, and a message for every bad cell."""
    text = pl.col(source).fill_null("").str.strip_chars()
    # "Immediate" and the like: in force from the received date, as with no date
    text = pl.when(text.str.contains(_IMMEDIATE)).then(pl.lit("")).otherwise(text)
    frame = frame.with_columns(text.alias("_d"))
    t = pl.col("_d")
    iso = t.str.extract_groups(_ISO)
    basic = t.str.extract_groups(_BASIC)
    dm = t.str.extract_groups(_DM)
    serial = t.str.extract_groups(_SERIAL)
    frame = frame.with_columns(
        _int(pl.coalesce(iso.struct.field("1"), basic.struct.field("1"))).alias("_iy"),
        _int(pl.coalesce(iso.struct.field("2"), basic.struct.field("2"))).alias("_im"),
        _int(pl.coalesce(iso.struct.field("3"), basic.struct.field("3"))).alias("_id"),
        _int(pl.coalesce(iso.struct.field("4"), dm.struct.field("4"))).fill_null(0).alias("_H"),
        _int(pl.coalesce(iso.struct.field("5"), dm.struct.field("5"))).fill_null(0).alias("_M"),
        _int(pl.coalesce(iso.struct.field("6"), dm.struct.field("6"))).fill_null(0).alias("_S"),
        iso.struct.field("7").alias("_tz"),
        _int(dm.struct.field("1")).alias("_a"),
        _int(dm.struct.field("2")).alias("_b"),
        _int(dm.struct.field("3")).alias("_y"),
        _int(serial.struct.field("1")).alias("_serial"),
        serial.struct.field("2").alias("_sfrac"),
    )
    is_dm = pl.col("_a").is_not_null()
    order_used = order
    note: str | None = None  # a pinned order is noted by parse_dates
    if order is None and bool(frame["_a"].is_not_null().any()):
        dm_rows = frame.filter(is_dm)
        day_first = dm_rows.filter(pl.col("_a") > 12)
        month_first = dm_rows.filter(pl.col("_b") > 12)
        if day_first.height and month_first.height:
            problems.add(
                file, None, column, None,
                f"mixes day-first dates (line {day_first[LINE][0]}: {day_first['_d'][0]!r}) and month-first "
                f"dates (line {month_first[LINE][0]}: {month_first['_d'][0]!r}); pass a profile with date_order",
            )
            return _give_up(frame, out), None
        if day_first.height:
            order_used = "dmy"
            note = f"day-first dates in '{column}' (line {day_first[LINE][0]}: {day_first['_d'][0]!r})"
        elif month_first.height:
            order_used = "mdy"
            note = f"month-first dates in '{column}' (line {month_first[LINE][0]}: {month_first['_d'][0]!r})"
        else:
            differ = dm_rows.filter(pl.col("_a") != pl.col("_b"))
            if differ.height:
                problems.add(
                    file, None, column, None,
                    f"ambiguous date column '{column}': no value proves day-first or month-first "
                    f"(e.g. line {differ[LINE][0]}: {differ['_d'][0]!r}); pass a profile with "
                    "date_order = \"dmy\" or \"mdy\"",
                )
                return _give_up(frame, out), None
            order_used = "dmy"  # every value has day == month: the order does not matter
    day_field, month_field = ("_a", "_b") if order_used != "mdy" else ("_b", "_a")
    y = pl.coalesce(pl.col("_iy"), pl.col("_y"))
    m = pl.coalesce(pl.col("_im"), pl.when(is_dm).then(pl.col(month_field)))
    d = pl.coalesce(pl.col("_id"), pl.when(is_dm).then(pl.col(day_field)))
    frame = frame.with_columns(y.alias("_Y"), m.alias("_Mo"), d.alias("_D"))
    Y, Mo, D = pl.col("_Y"), pl.col("_Mo"), pl.col("_D")
    civil = Y.is_not_null() & Mo.is_not_null() & D.is_not_null()
    valid_civil = (
        civil
        & Y.is_between(1900, 9999)
        & Mo.is_between(1, 12)
        & (D >= 1)
        & (_days_in_month(Y, Mo) >= D)
        & pl.col("_H").is_between(0, 23)
        & pl.col("_M").is_between(0, 59)
        & pl.col("_S").is_between(0, 59)
    )
    tz = pl.col("_tz").fill_null("").str.replace("Z", "+00:00", literal=True).str.replace(":", "", literal=True)
    offset = (
        pl.when(tz == "")
        .then(0)
        .otherwise(
            pl.when(tz.str.starts_with("-")).then(-1).otherwise(1)
            * (_int(tz.str.slice(1, 2)) * 3600 + _int(tz.str.slice(3, 2)).fill_null(0) * 60)
        )
    )
    civil_seconds = (
        _days_from_civil(Y, Mo, D) * DAY + pl.col("_H") * 3600 + pl.col("_M") * 60 + pl.col("_S") - offset
    )
    is_serial = pl.col("_serial").is_not_null() & ~civil
    valid_serial = is_serial & (pl.col("_serial") >= MIN_SERIAL)
    frac_seconds = (
        ("0" + pl.col("_sfrac").fill_null(".0")).cast(pl.Float64, strict=False) * DAY
    ).round(0).cast(pl.Int64)
    serial_seconds = (pl.col("_serial") + EXCEL_EPOCH_DAYS) * DAY + frac_seconds
    empty = t == ""
    valid = valid_civil | valid_serial
    problems.from_mask(
        frame,
        ~empty & ~valid,
        "_d",
        file=file,
        column=column,
        message=pl.when(civil | is_serial)
        .then(pl.lit("is not a valid date"))
        .otherwise(pl.lit("is not a date (YYYY-MM-DD, DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY or an Excel serial)")),
    )
    result = pl.when(valid_civil).then(civil_seconds).when(valid_serial).then(serial_seconds)
    frame = frame.with_columns(result.cast(pl.Int64).alias(out), (~empty & ~valid).alias(f"_bad_{out}"))
    return _drop_temps(frame), note


def _give_up(frame: pl.DataFrame, out: str) -> pl.DataFrame:
    return _drop_temps(frame.with_columns(pl.lit(None, pl.Int64).alias(out), pl.lit(False).alias(f"_bad_{out}")))


def _drop_temps(frame: pl.DataFrame) -> pl.DataFrame:
    temps = ["_d", "_iy", "_im", "_id", "_H", "_M", "_S", "_tz", "_a", "_b", "_y", "_serial", "_sfrac",
             "_Y", "_Mo", "_D"]
    return frame.drop([c for c in temps if c in frame.columns])
