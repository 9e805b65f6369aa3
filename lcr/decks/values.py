"""Cell values other than codes and dates: money, billing increments, change words.

Money is parsed from the decimal text, never through float: ``"0,0079"`` (decimal comma) and
``"0.0079"`` are both ``7900`` micro-units. More than 6 decimals (after trailing zeros) is a
problem, as is a negative amount. A cell with a comma and no point is read with a decimal comma
(a per-minute price of a thousand or more is not plausible, so ``1,234`` is 1.234); a profile's
``decimal_comma`` can force either reading. A leading currency sign (``$ € £``) is allowed.

Billing cells: ``60/1``, ``60-1``, ``60:1``, ``60x1`` are first/next increments; a single number
``60`` is ``60/60``. Increments are whole seconds from 1 to 86,400.
"""

from __future__ import annotations

import re

import polars as pl

from lcr.decks.table import Problems, hybrid
from lcr.money import MICRO

MAX_INTERVAL = 86_400
MAX_WHOLE_DIGITS = 12
_NUMBER = r"^([+-]?)(\d*)(?:\.(\d*))?$"
_BILLING = re.compile(r"^(\d{1,9})(?:\s*[/\-:x+]\s*(\d{1,9}))?$")

CHANGE_WORDS: dict[str, str] = {}
for _kind, _words in {
    "New": "new|added|add|new code|new codes|new destination|introduced|introduction|n",
    "Increase": "increase|increased|inc|up|rate increase|price increase|higher|i",
    "Decrease": "decrease|decreased|dec|down|rate decrease|price decrease|reduced|reduction|lower|d",
    "Unchanged": "unchanged|current|no change|nochange|same|existing|stable|no changes|u",
    "Closed": "closed|close|removed|remove|deleted|delete|code removal|code removed|removal|discontinued|"
    "terminated|withdrawn|end|ended|deactivated|expired",
    "Blocked": "blocked|block|barred|bar|suspended",
}.items():
    for _w in _words.split("|"):
        CHANGE_WORDS[_w] = _kind


def money(
    frame: pl.DataFrame,
    source: str,
    out: str,
    *,
    file: str,
    column: str,
    problems: Problems,
    decimal_comma: bool | None,
    required: pl.Expr | None,
    default: int | None = None,
) -> tuple[pl.DataFrame, bool]:
    """Parse ``source`` into micro-units in ``out``; returns (frame, any decimal comma seen).

    Empty cells: a problem where ``required`` is true, else ``default`` (or null). Plain cells
    (``0.0123``) take a fast path; everything else goes through :func:`_money_slow`.
    """
    raw = pl.col(source)
    empty = raw.is_null() | (raw == "")
    commas = decimal_comma is not False and bool(frame.select(raw.str.contains(",", literal=True).any()).item())
    # "0,0079" is 0.0079 (a cell with both "," and "." is not plain: the slow path explains it)
    text = raw.str.replace(",", ".", literal=True) if commas else raw
    plain = text.str.contains(r"^\d{1,12}(?:\.\d{0,6})?$")
    # exact: a decimal with scale 6 is the integer count of micro-units (only used where ``plain``
    # guarantees at most 6 decimals, so the cast never rounds)
    value = text.cast(pl.Decimal(18, 6), strict=False).to_physical().cast(pl.Int64)
    fast_ok = plain | (empty & ~required) if required is not None else plain | empty
    fast_value = pl.when(empty).then(pl.lit(default, pl.Int64)).otherwise(value)
    seen: list[bool] = []

    def slow(rest: pl.DataFrame) -> pl.DataFrame:
        rest, comma = _money_slow(rest, source, out, file=file, column=column, problems=problems,
                                  decimal_comma=decimal_comma, required=required, default=default)
        seen.append(comma)
        return rest

    frame = hybrid(frame, {out: fast_value}, fast_ok, slow)
    return frame, commas or any(seen)


def _money_slow(
    frame: pl.DataFrame,
    source: str,
    out: str,
    *,
    file: str,
    column: str,
    problems: Problems,
    decimal_comma: bool | None,
    required: pl.Expr | None,
    default: int | None,
) -> tuple[pl.DataFrame, bool]:
    """Every accepted form of a money cell, and a message for every bad one."""
    text = pl.col(source).fill_null("").str.strip_chars()
    frame = frame.with_columns(text.alias("_m"))
    t = pl.col("_m")
    comma = bool(frame["_m"].str.contains(",", literal=True).any())
    if comma:
        if decimal_comma is None:
            t = pl.when(t.str.contains(".", literal=True)).then(t).otherwise(t.str.replace(",", ".", literal=True))
        elif decimal_comma:
            t = t.str.replace(",", ".", literal=True)
    if bool(frame["_m"].str.contains(r"[$€£\s]").any()):
        t = t.str.replace(r"^[$€£]\s*", "").str.replace(r"\s+", "")
    parts = t.str.extract_groups(_NUMBER)
    frame = frame.with_columns(
        parts.struct.field("1").alias("_sign"),
        parts.struct.field("2").alias("_whole"),
        parts.struct.field("3").fill_null("").alias("_raw_frac"),
        parts.struct.field("3").fill_null("").str.strip_chars_end("0").alias("_frac"),
    )
    empty = pl.col("_m") == ""
    matched = pl.col("_whole").is_not_null() & ((pl.col("_whole") != "") | (pl.col("_raw_frac") != ""))
    too_precise = pl.col("_frac").str.len_chars() > 6
    too_big = pl.col("_whole").str.len_chars() > MAX_WHOLE_DIGITS
    value = (
        pl.col("_whole").replace("", "0").cast(pl.Int64, strict=False) * MICRO
        + pl.col("_frac").str.pad_end(6, "0").cast(pl.Int64, strict=False)
    )
    ok = matched & ~too_precise & ~too_big
    negative = ok & (pl.col("_sign") == "-") & (value > 0)
    checks: list[tuple[pl.Expr, str]] = [
        (~empty & ~matched, "is not a number"),
        (~empty & matched & too_precise, "has more than 6 decimals"),
        (~empty & matched & too_big, "is too large"),
        (~empty & negative, "is negative"),
    ]
    missing = pl.lit(False)
    if required is not None:
        missing = empty & required
        checks.append((missing, "is empty (a rate is required unless the code is Closed)"))
    for mask, message in checks:
        problems.from_mask(frame, mask, "_m", file=file, column=column, message=message)
    result = pl.when(empty).then(pl.lit(default, pl.Int64)).when(ok & ~negative).then(value).otherwise(None)
    bad = (~empty & ~(ok & ~negative)) | missing
    frame = frame.with_columns(result.cast(pl.Int64).alias(out), bad.fill_null(False).alias(f"_bad_{out}"))
    return frame.drop("_m", "_sign", "_whole", "_raw_frac", "_frac"), comma


def intervals_from_billing(
    frame: pl.DataFrame, source: str, *, file: str, column: str, problems: Problems
) -> pl.DataFrame:
    """``60/1`` -> first_interval 60, next_interval 1; ``60`` -> 60, 60; empty -> 1, 1.

    Billing cells take few distinct values: each distinct value is parsed once.
    """
    first: dict[str, int | None] = {}
    nxt: dict[str, int | None] = {}
    bad: dict[str, str] = {}
    for value in frame[source].fill_null("").unique().to_list():
        text = value.strip()
        m = _BILLING.match(text)
        if not text:
            first[value], nxt[value] = 1, 1
        elif m is None:
            first[value] = nxt[value] = None
            bad[value] = "is not a billing increment such as 60/1 (whole seconds)"
        else:
            f, n = int(m.group(1)), int(m.group(2) or m.group(1))
            if 1 <= f <= MAX_INTERVAL and 1 <= n <= MAX_INTERVAL:
                first[value], nxt[value] = f, n
            else:
                first[value] = nxt[value] = None
                bad[value] = f"has an increment outside 1..{MAX_INTERVAL} seconds"
    src = pl.col(source).fill_null("")
    frame = frame.with_columns(
        src.replace_strict(first, return_dtype=pl.Int32).alias("first_interval"),
        src.replace_strict(nxt, return_dtype=pl.Int32).alias("next_interval"),
        src.is_in(list(bad)).alias("_bad_billing"),
    )
    _report(frame, source, bad, file=file, column=column, problems=problems)
    return frame


def _report(
    frame: pl.DataFrame, source: str, bad: dict[str, str], *, file: str, column: str, problems: Problems
) -> None:
    """One problem per row whose (distinct) value is in ``bad`` (value -> message)."""
    if not bad:
        return
    src = pl.col(source).fill_null("")
    problems.from_mask(frame, src.is_in(list(bad)), src.str.strip_chars(), file=file, column=column,
                       message=src.replace_strict(bad, default="", return_dtype=pl.String))


def interval(
    frame: pl.DataFrame, source: str | None, out: str, *, file: str, column: str, problems: Problems
) -> pl.DataFrame:
    """A whole number of seconds (1..86400) in ``out``; empty or no column = 1."""
    if source is None:
        return frame.with_columns(pl.lit(1, pl.Int32).alias(out), pl.lit(False).alias(f"_bad_{out}"))
    raw = pl.col(source)
    n = raw.cast(pl.Int32, strict=False)
    empty = raw.is_null() | (raw == "")
    fast_ok = empty | n.is_between(1, MAX_INTERVAL)

    def slow(rest: pl.DataFrame) -> pl.DataFrame:
        text = pl.col(source).fill_null("").str.strip_chars()
        whole = text.str.contains(r"^\d{1,9}$")
        m = pl.when(whole).then(text).cast(pl.Int64, strict=False)
        ok = (text == "") | m.is_between(1, MAX_INTERVAL).fill_null(False)
        rest = rest.with_columns(
            text.alias("_i"),
            pl.when(text == "").then(1).when(ok).then(m).cast(pl.Int32).alias(out),
            (~ok).alias(f"_bad_{out}"),
        )
        problems.from_mask(rest, ~whole & (text != ""), "_i", file=file, column=column,
                           message="is not a whole number of seconds")
        problems.from_mask(rest, whole & ~ok, "_i", file=file, column=column,
                           message=f"is outside 1..{MAX_INTERVAL} seconds")
        return rest.drop("_i")

    return hybrid(frame, {out: pl.when(empty).then(pl.lit(1, pl.Int32)).otherwise(n)}, fast_ok, slow)


def change(frame: pl.DataFrame, source: str | None, *, file: str, column: str, problems: Problems) -> pl.DataFrame:
    """Vendor change words normalised to New|Increase|Decrease|Unchanged|Closed|Blocked (or null)."""
    if source is None:
        return frame.with_columns(pl.lit(None, pl.String).alias("change"), pl.lit(False).alias("_bad_change"))
    kinds: dict[str, str | None] = {}
    bad: dict[str, str] = {}
    for value in frame[source].fill_null("").unique().to_list():
        key = re.sub(r"[\s_\-.]+", " ", value.strip().lower()).strip()
        kinds[value] = CHANGE_WORDS.get(key) if key else None
        if key and kinds[value] is None:
            bad[value] = "is not a known change (New, Increase, Decrease, Unchanged, Closed, Blocked)"
    src = pl.col(source).fill_null("")
    frame = frame.with_columns(
        src.replace_strict(kinds, return_dtype=pl.String).alias("change"),
        src.is_in(list(bad)).alias("_bad_change"),
    )
    _report(frame, source, bad, file=file, column=column, problems=problems)
    return frame
