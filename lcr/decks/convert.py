"""One :class:`~lcr.decks.table.Table` of raw strings to canonical rows (see ``CANONICAL_SCHEMA``).

The steps are column-wise Polars expressions over the whole table: change words first (a
``Closed`` row may have no rate), then money, billing increments, dates, and last the code cells,
which explode the rows to one per code. Every bad cell is recorded in the shared
:class:`~lcr.decks.table.Problems`; rows with a bad cell are left out of the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from lcr.decks import codes, dates, values
from lcr.decks.header import ColumnMap, currency_of, date_order_hint, map_columns
from lcr.decks.profile import Profile
from lcr.decks.table import LINE, Problems, Table, cell
from lcr.errors import DeckRejected

CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "sheet": pl.String(),
    "prefix": pl.String(),
    "destination": pl.String(),
    "rate": pl.Int64(),
    "connect_fee": pl.Int64(),
    "first_interval": pl.Int32(),
    "next_interval": pl.Int32(),
    "effective_from": pl.Int64(),
    "effective_to": pl.Int64(),
    "change": pl.String(),
}


@dataclass
class Converted:
    frame: pl.DataFrame  # CANONICAL_SCHEMA
    currencies: dict[str, str] = field(default_factory=dict)  # where found -> currency code
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def empty_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=CANONICAL_SCHEMA)


def convert(table: Table, profile: Profile, problems: Problems) -> Converted:
    """Canonical rows of ``table``; bad cells go to ``problems`` and their rows are dropped."""
    cmap = map_columns(table.header, profile, table.file, removal=table.removal)
    _require(cmap, table)
    result = Converted(empty_frame(), notes=[*table.notes, *cmap.notes], warnings=[*table.warnings, *cmap.warnings])
    file = table.file

    def src(role: str) -> str | None:
        i = cmap.get(role)
        return cell(i) if i is not None else None

    def name(role: str) -> str:
        return table.header[cmap.roles[role]]

    frame = _skip_headings(table.rows, cmap, table, result)
    if len(cmap.destinations) == 1:
        dest = pl.col(cell(cmap.destinations[0])).fill_null("").str.strip_chars()
    elif cmap.destinations:
        parts = [pl.col(cell(i)).fill_null("").str.strip_chars() for i in cmap.destinations]
        dest = pl.concat_list(parts).list.eval(pl.element().filter(pl.element() != "")).list.join(" ")
    else:
        dest = pl.lit("")
    frame = frame.with_columns(dest.alias("destination"))

    if table.removal:
        frame = frame.with_columns(pl.lit("Closed").alias("change"), pl.lit(False).alias("_bad_change"))
        frame = frame.with_columns(pl.lit(None, pl.Int64).alias("rate"), pl.lit(False).alias("_bad_rate"))
        result.notes.append(f"code-removal sheet {table.sheet!r}: its codes are Closed")
    else:
        change_src = src("change")
        frame = values.change(frame, change_src, file=file, column=name("change") if change_src else "",
                              problems=problems)
        required = pl.col("change").fill_null("") != "Closed"
        frame, comma = values.money(frame, cell(cmap.roles["rate"]), "rate", file=file, column=name("rate"),
                                    problems=problems, decimal_comma=profile.decimal_comma, required=required)
        if comma:
            result.notes.append("decimal commas")
        for role in ("rate", "connect_fee"):
            cur = currency_of(name(role)) if role in cmap.roles else None
            if cur:
                result.currencies[f"{file}: header {name(role)!r}"] = cur

    if "connect_fee" in cmap.roles:
        frame, _ = values.money(frame, cell(cmap.roles["connect_fee"]), "connect_fee", file=file,
                                column=name("connect_fee"), problems=problems,
                                decimal_comma=profile.decimal_comma, required=None, default=0)
    else:
        frame = frame.with_columns(pl.lit(0, pl.Int64).alias("connect_fee"), pl.lit(False).alias("_bad_connect_fee"))

    frame = _intervals(frame, cmap, table, problems)
    if "grace_time" in cmap.roles:
        _grace(frame, cell(cmap.roles["grace_time"]), name("grace_time"), result)

    for role, out in (("effective_date", "effective_from"), ("end_date", "effective_to")):
        if role in cmap.roles:
            # a format in the header ("Effective Date (dd/mm/yyyy)") is the file saying the order
            hint = date_order_hint(name(role))
            order = profile.date_order or hint
            frame, note = dates.parse_dates(frame, cell(cmap.roles[role]), out, file=file, column=name(role),
                                            problems=problems, order=order,
                                            pinned_by="profile" if profile.date_order else "header")
            if note:
                result.notes.append(note)
        else:
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias(out), pl.lit(False).alias(f"_bad_{out}"))
    if "effective_date" not in cmap.roles and not table.removal:
        result.notes.append("no effective dates (in force from the received date)")
    reversed_span = pl.col("effective_to") <= pl.col("effective_from")
    if "end_date" in cmap.roles and "effective_date" in cmap.roles:
        problems.from_mask(frame, reversed_span, cell(cmap.roles["end_date"]), file=file, column=name("end_date"),
                           message="is not after the effective date")
    frame = frame.with_columns(reversed_span.fill_null(False).alias("_bad_span"))

    if "currency" in cmap.roles:
        _currency_column(frame, cell(cmap.roles["currency"]), name("currency"), file, result)

    # codes last (they explode the rows), and of every row, so a row's bad code and bad rate are both reported
    frame = _codes(frame, cmap, table, problems)
    bad = pl.any_horizontal([pl.col(c) for c in frame.columns if c.startswith("_bad_")])
    frame = frame.filter(~bad)
    frame = frame.with_columns(pl.lit(table.sheet, pl.String).alias("sheet"))
    result.frame = frame.select([pl.col(c).cast(t) for c, t in CANONICAL_SCHEMA.items()])
    if table.removal and result.frame.height:
        result.warnings.append(
            f"code-removal sheet {table.sheet!r} applied: {result.frame.height} code(s) Closed "
            f"({', '.join(result.frame['prefix'].head(10).to_list())}{' ...' if result.frame.height > 10 else ''})"
        )
    return result


def _skip_headings(frame: pl.DataFrame, cmap: ColumnMap, table: Table, result: Converted) -> pl.DataFrame:
    """Rows with no code, no rate and no change (a region heading such as "EUROPE") are skipped."""
    roles = ["prefix", "country_code", "area_code", "rate", "change"]
    cols = [cell(cmap.roles[r]) for r in roles if r in cmap.roles]
    empty = pl.all_horizontal([pl.col(c).is_null() | pl.col(c).str.contains(r"^\s*$") for c in cols])
    if not frame.select(pl.col(cols[0]).is_null() | pl.col(cols[0]).str.contains(r"^\s*$")).to_series().any():
        return frame  # every row has a code: nothing to skip (the common case, checked on one column)
    skipped = frame.filter(empty)
    if skipped.height == 0:
        return frame
    lines = ", ".join(str(n) for n in skipped[LINE].head(10).to_list())
    more = f" and {skipped.height - 10} more" if skipped.height > 10 else ""
    result.warnings.append(f"{table.file}: rows without code and rate skipped (headings?): line(s) {lines}{more}")
    return frame.filter(~empty)


def _require(cmap: ColumnMap, table: Table) -> None:
    if "prefix" not in cmap.roles and "country_code" not in cmap.roles:
        raise DeckRejected(f"{table.file}: no code column among {', '.join(repr(h) for h in table.header)}")
    if not table.removal and "rate" not in cmap.roles:
        raise DeckRejected(f"{table.file}: no rate column among {', '.join(repr(h) for h in table.header)}")


def _intervals(frame: pl.DataFrame, cmap: ColumnMap, table: Table, problems: Problems) -> pl.DataFrame:
    file = table.file
    separate = "first_interval" in cmap.roles or "next_interval" in cmap.roles
    if "billing" in cmap.roles and not separate:
        i = cmap.roles["billing"]
        return values.intervals_from_billing(frame, cell(i), file=file, column=table.header[i], problems=problems)
    for role in ("first_interval", "next_interval"):
        j = cmap.get(role)
        frame = values.interval(frame, cell(j) if j is not None else None, role, file=file,
                                column=table.header[j] if j is not None else role, problems=problems)
    return frame


def _grace(frame: pl.DataFrame, source: str, column: str, result: Converted) -> None:
    text = pl.col(source).fill_null("").str.strip_chars()
    nonzero = frame.filter(~text.str.contains(r"^(?:0+(?:[.,]0*)?)?$"))
    if nonzero.height:
        lines = nonzero[LINE].head(5).to_list()
        more = f" and {nonzero.height - 5} more" if nonzero.height > 5 else ""
        result.warnings.append(
            f"{column!r} is not applied: non-zero grace time on line(s) {', '.join(map(str, lines))}{more}"
        )


def _currency_column(frame: pl.DataFrame, source: str, column: str, file: str, result: Converted) -> None:
    found = frame[source].fill_null("").str.strip_chars().str.to_uppercase().unique().to_list()
    found = sorted(c for c in found if c)
    if len(found) > 1:
        raise DeckRejected(f"{file}: column {column!r} holds several currencies ({', '.join(found)})")
    if found:
        result.currencies[f"{file}: column {column!r}"] = found[0]


def _codes(frame: pl.DataFrame, cmap: ColumnMap, table: Table, problems: Problems) -> pl.DataFrame:
    file = table.file
    if "prefix" in cmap.roles:
        i = cmap.roles["prefix"]
        return codes.expand_codes(frame, cell(i), out="prefix", file=file, column=table.header[i], problems=problems)
    cc = cmap.roles["country_code"]
    frame = codes.expand_codes(frame, cell(cc), out="_cc", file=file, column=table.header[cc], problems=problems)
    if "area_code" not in cmap.roles:
        return frame.rename({"_cc": "prefix"})
    area = cmap.roles["area_code"]
    frame = codes.expand_codes(frame, cell(area), out="_area", file=file, column=table.header[area],
                               problems=problems, strip_intl=False, empty_ok=True)
    return frame.with_columns((pl.col("_cc") + pl.col("_area")).alias("prefix")).drop("_cc", "_area")
