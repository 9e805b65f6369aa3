"""The change a deck makes to an owner's rates: decided here, written by ``lcr.store``.

Pure: a parsed deck frame and the owner's live versions in, a :class:`DeckPlan` out.

Versioning rules (contract, "Canonical rate deck"):

- every deck row becomes a version ``[effective_from, effective_to)``; a deck row without a date
  is in force from the received date; rows of one code in one deck chain (each ends where the
  next begins);
- a new version closes the version in force at its effective date (``effective_to`` set to it)
  and supersedes versions that would have started later (they are closed at their own start:
  kept for the audit trail, never in force);
- a row whose values equal the version already in force (and nothing later is scheduled) is
  ``Unchanged`` and writes nothing, so importing the same rates again changes nothing;
- ``Closed`` ends the code at its effective date; ``Blocked`` starts a blocked version;
- ``full`` mode closes, at the received date, every live code of the owner the deck leaves out.

Each deck row is classified against the rate in force just before its effective date:
``New`` (nothing in force), ``Increase``, ``Decrease``, ``Unchanged``, ``Closed``, ``Blocked``.
An increase effective less than ``notice_days`` after the received date is a notice problem:
``warn`` lists the codes, ``defer`` moves the increase to the earliest allowed instant,
``reject`` refuses the deck.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import polars as pl

from lcr.errors import DeckProblem, DeckRejected
from lcr.model import RATE_FRAME_SCHEMA

DAY = 86_400
VALUE_COLUMNS = ("destination", "rate", "connect_fee", "first_interval", "next_interval", "blocked")
VERSION_SCHEMA: dict[str, pl.DataType] = RATE_FRAME_SCHEMA
EXISTING_SCHEMA: dict[str, pl.DataType] = {"id": pl.Int64(), **VERSION_SCHEMA}
CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "prefix": pl.String(),
    "destination": pl.String(),
    "change": pl.String(),
    "old_rate": pl.Int64(),
    "new_rate": pl.Int64(),
    "effective_from": pl.Int64(),
}
CHANGE_KINDS = ("New", "Increase", "Decrease", "Unchanged", "Closed", "Blocked")


class NoticePolicy(StrEnum):
    WARN = "warn"
    DEFER = "defer"
    REJECT = "reject"


@dataclass(frozen=True)
class DeckPlan:
    inserts: pl.DataFrame  # VERSION_SCHEMA: new versions to write
    closes: pl.DataFrame  # id Int64, effective_to Int64: existing versions to close
    changes: pl.DataFrame  # CHANGE_SCHEMA: one row per deck code (+ codes a full deck closes)
    warnings: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        got = dict(self.changes.group_by("change").len().iter_rows())
        return {kind: int(got.get(kind, 0)) for kind in CHANGE_KINDS}

    @property
    def writes_nothing(self) -> bool:
        return self.inserts.is_empty() and self.closes.is_empty()


def plan_deck(
    deck: pl.DataFrame,
    existing: pl.DataFrame,
    *,
    file: str,
    mode: str,
    received: int,
    notice_days: int = 7,
    policy: NoticePolicy = NoticePolicy.WARN,
) -> DeckPlan:
    """Decide what importing ``deck`` (a ``lcr.decks`` frame) does to ``existing`` live versions."""
    if mode not in ("full", "delta"):
        raise ValueError(f"mode must be full or delta, not {mode!r}")
    rows = _deck_rows(deck, received)
    live = existing.select(list(EXISTING_SCHEMA)).cast(EXISTING_SCHEMA)  # type: ignore[arg-type]
    live = live.filter(pl.col("effective_to").is_null() | (pl.col("effective_to") > pl.col("effective_from")))

    rows, live = _keyed(rows, live)
    plan = _plan(rows, live)
    notice = received + notice_days * DAY
    late = plan.changes.filter((pl.col("change") == "Increase") & (pl.col("effective_from") < notice))
    warnings: list[str] = []
    if not late.is_empty():
        codes = ", ".join(late["prefix"].to_list()[:50]) + (" ..." if late.height > 50 else "")
        what = (
            f"{late.height} rate increase(s) effective less than {notice_days} days after the received "
            f"date: {codes}"
        )
        if policy is NoticePolicy.REJECT:
            problems = [
                DeckProblem(file, None, "effective_date", None,
                            f"code {p}: increase effective {_day(e)} is inside the {notice_days}-day notice period")
                for p, e in late.select("prefix", "effective_from").iter_rows()
            ]
            raise DeckRejected(f"{file}: {what}; the notice policy rejects the deck", problems)
        if policy is NoticePolicy.DEFER:
            late_keys = late.select("prefix", "effective_from").with_columns(pl.lit(True).alias("_late"))
            rows = (
                rows.join(late_keys, on=["prefix", "effective_from"], how="left")
                .with_columns(
                    pl.when(pl.col("_late")).then(pl.lit(notice)).otherwise(pl.col("effective_from"))
                    .alias("effective_from")
                )
                .drop("_late")
            )
            rows = _chain(rows.drop("effective_to").rename({"_given_to": "effective_to"}))
            plan = _plan(rows, live)
            warnings.append(f"{what}; deferred to {_day(notice)} (notice policy 'defer')")
        else:
            warnings.append(what)
    closes, changes = plan.closes, plan.changes
    if mode == "full":
        gone_closes, gone_changes = _full_mode_closures(rows, live, received)
        closes, changes = pl.concat([closes, gone_closes]), pl.concat([changes, gone_changes])
    return DeckPlan(plan.inserts, closes, changes, tuple(warnings))


# --- internals -------------------------------------------------------------------------------


def _day(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _keyed(rows: pl.DataFrame, live: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add the join key ``_k``: the code as an Int64 (``"1" + prefix``) when every code fits,
    which makes the joins of a million-row deck several times faster than on strings."""
    lengths = pl.concat([rows["prefix"], live["prefix"]]).str.len_bytes()
    longest = cast(int, lengths.max() or 0)
    key = ("1" + pl.col("prefix")).cast(pl.Int64) if longest <= 17 else pl.col("prefix")
    return rows.with_columns(key.alias("_k")), live.with_columns(key.alias("_k"))


def _deck_rows(deck: pl.DataFrame, received: int) -> pl.DataFrame:
    """The deck as versions: dates filled, blocked flag set, one chain per code."""
    change = pl.col("change").fill_null("")
    rows = deck.select(
        pl.col("prefix").cast(pl.String),
        pl.col("destination").cast(pl.String).fill_null(""),
        pl.col("rate").cast(pl.Int64),
        pl.col("connect_fee").cast(pl.Int64).fill_null(0),
        pl.col("first_interval").cast(pl.Int32).fill_null(1),
        pl.col("next_interval").cast(pl.Int32).fill_null(1),
        pl.col("effective_from").cast(pl.Int64).fill_null(received),
        pl.col("effective_to").cast(pl.Int64),
        (change == "Blocked").alias("blocked"),
        (change == "Closed").alias("closed"),
    ).with_columns(pl.col("rate").fill_null(0))
    return _chain(rows)


def _chain(rows: pl.DataFrame) -> pl.DataFrame:
    """A version without an end ends where the code's next row (by date) begins."""
    rows = rows.with_columns(pl.col("effective_to").alias("_given_to"))
    if rows["prefix"].n_unique() == rows.height:
        return rows  # one row per code (the usual deck): nothing to chain, no sort needed
    rows = rows.sort("prefix", "effective_from")
    same_code = pl.col("prefix").shift(-1) == pl.col("prefix")
    nxt = pl.when(same_code).then(pl.col("effective_from").shift(-1))
    return rows.with_columns(
        pl.when(nxt.is_not_null() & (pl.col("effective_to").is_null() | (pl.col("effective_to") > nxt)))
        .then(nxt)
        .otherwise(pl.col("effective_to"))
        .alias("effective_to"),
    )


@dataclass(frozen=True)
class _Plan:
    inserts: pl.DataFrame
    closes: pl.DataFrame
    changes: pl.DataFrame


def _classify(new_rate: pl.Expr, old_rate: pl.Expr) -> pl.Expr:
    return (
        pl.when(old_rate.is_null()).then(pl.lit("New"))
        .when(new_rate > old_rate).then(pl.lit("Increase"))
        .when(new_rate < old_rate).then(pl.lit("Decrease"))
        .otherwise(pl.lit("Unchanged"))
    )


def _plan(rows: pl.DataFrame, live: pl.DataFrame) -> _Plan:
    if rows["_k"].n_unique() == rows.height:  # one row per code: no grouping needed
        per_code = rows.select("_k", pl.lit(1).alias("_n"), pl.col("effective_from").alias("_e0"),
                               pl.col("closed").alias("_anyclosed"))
    else:
        per_code = rows.group_by("_k").agg(
            pl.len().alias("_n"),
            pl.col("effective_from").min().alias("_e0"),
            pl.col("closed").any().alias("_anyclosed"),
        )
    relevant = live.join(per_code.select("_k", "_e0"), on="_k", how="inner").filter(
        pl.col("effective_to").is_null() | (pl.col("effective_to") > pl.col("_e0"))
    )
    rel_stats = relevant.group_by("_k").agg(
        pl.len().alias("_nrel"),
        (pl.col("effective_from") > pl.col("_e0")).any().alias("_later"),
        pl.col("effective_to").is_not_null().any().alias("_bounded"),
    )
    codes = per_code.join(rel_stats, on="_k", how="left").with_columns(pl.col("_nrel").fill_null(0))
    simple = codes.filter(
        (pl.col("_n") == 1) & ~pl.col("_anyclosed") & (pl.col("_nrel") <= 1)
        & ~pl.col("_later").fill_null(False) & ~pl.col("_bounded").fill_null(False)
    ).select("_k")

    if simple.height == per_code.height:  # every code is simple (the usual nightly deck)
        return _plan_simple(rows, relevant)
    fast = _plan_simple(rows.join(simple, on="_k", how="semi"), relevant.join(simple, on="_k", how="semi"))
    complex_rows = rows.join(simple, on="_k", how="anti")
    slow = _plan_complex(complex_rows, relevant.join(simple, on="_k", how="anti"))
    return _Plan(
        pl.concat([fast.inserts, slow.inserts]),
        pl.concat([fast.closes, slow.closes]),
        pl.concat([fast.changes, slow.changes]),
    )


def _plan_simple(rows: pl.DataFrame, prev: pl.DataFrame) -> _Plan:
    """One deck row per code, at most one open version in force: the common case, vectorised."""
    old = prev.select(
        "_k",
        pl.col("id").alias("_old_id"),
        pl.col("effective_from").alias("_old_from"),
        *(pl.col(c).alias(f"_old_{c}") for c in VALUE_COLUMNS),
    )
    j = rows.join(old, on="_k", how="left")
    same = pl.lit(True)
    for c in VALUE_COLUMNS:
        same = same & (pl.col(c) == pl.col(f"_old_{c}")).fill_null(False)
    unchanged = pl.col("_old_id").is_not_null() & same & pl.col("effective_to").is_null()
    j = j.with_columns(unchanged.alias("_unchanged"))
    writes = j.filter(~pl.col("_unchanged"))
    inserts = writes.select(list(VERSION_SCHEMA))
    closes = writes.filter(pl.col("_old_id").is_not_null()).select(
        pl.col("_old_id").alias("id"),
        # a version replaced on its own start date is superseded (closed at its start)
        pl.max_horizontal("effective_from", "_old_from").alias("effective_to"),
    )
    changes = j.select(
        "prefix",
        "destination",
        pl.when(pl.col("blocked")).then(pl.lit("Blocked"))
        .otherwise(_classify(pl.col("rate"), pl.col("_old_rate")))
        .alias("change"),
        pl.col("_old_rate").alias("old_rate"),
        pl.col("rate").alias("new_rate"),
        "effective_from",
    )
    return _Plan(inserts, closes, changes.cast(CHANGE_SCHEMA))  # type: ignore[arg-type]


def _plan_complex(rows: pl.DataFrame, relevant: pl.DataFrame) -> _Plan:
    """Chains, Closed rows and codes with scheduled changes: per code in Python (rare)."""
    inserts: list[dict[str, Any]] = []
    closes: list[tuple[int, int]] = []
    changes: list[dict[str, Any]] = []
    existing_by_code: dict[str, list[dict[str, Any]]] = {}
    for v in relevant.sort("prefix", "effective_from").iter_rows(named=True):
        existing_by_code.setdefault(v["prefix"], []).append(v)

    by_code: dict[str, list[dict[str, Any]]] = {}
    for r in rows.iter_rows(named=True):
        by_code.setdefault(r["prefix"], []).append(r)

    for code, deck_rows in by_code.items():
        olds = existing_by_code.get(code, [])
        e0 = int(deck_rows[0]["effective_from"])
        segments = [r for r in deck_rows if not r["closed"]]
        if _same_timeline(olds, segments, deck_rows, e0):
            for r in deck_rows:
                changes.append(_change(r, "Unchanged", r["rate"]))
            continue
        for v in olds:
            vfrom = int(v["effective_from"])
            closes.append((int(v["id"]), max(vfrom, e0)))
        before = next((v for v in olds if int(v["effective_from"]) <= e0), None)
        previous: dict[str, Any] | None = before
        for r in deck_rows:
            old_rate = previous["rate"] if previous is not None and not previous.get("closed") else None
            if r["closed"]:
                changes.append(_change(r, "Closed", old_rate, new_rate=None))
                previous = None
                continue
            inserts.append({k: r[k] for k in VERSION_SCHEMA})
            kind = "Blocked" if r["blocked"] else _classify_py(r["rate"], old_rate)
            changes.append(_change(r, kind, old_rate))
            previous = r if r["effective_to"] is None or r["effective_to"] == _next_from(deck_rows, r) else None

    return _Plan(
        pl.DataFrame(inserts, schema=VERSION_SCHEMA, orient="row") if inserts
        else pl.DataFrame(schema=VERSION_SCHEMA),
        pl.DataFrame(closes, schema={"id": pl.Int64, "effective_to": pl.Int64}, orient="row"),
        pl.DataFrame(changes, schema=CHANGE_SCHEMA) if changes else pl.DataFrame(schema=CHANGE_SCHEMA),
    )


def _next_from(deck_rows: list[dict[str, Any]], r: dict[str, Any]) -> object:
    i = deck_rows.index(r)
    return deck_rows[i + 1]["effective_from"] if i + 1 < len(deck_rows) else None


def _classify_py(new: object, old: object) -> str:
    if old is None:
        return "New"
    if new > old:  # type: ignore[operator]
        return "Increase"
    if new < old:  # type: ignore[operator]
        return "Decrease"
    return "Unchanged"


def _change(r: dict[str, Any], kind: str, old_rate: object, *, new_rate: object = ...) -> dict[str, Any]:
    return {
        "prefix": r["prefix"],
        "destination": r["destination"],
        "change": kind,
        "old_rate": old_rate,
        "new_rate": r["rate"] if new_rate is ... else new_rate,
        "effective_from": r["effective_from"],
    }


def _same_timeline(
    olds: list[dict[str, Any]], segments: list[dict[str, Any]], deck_rows: list[dict[str, Any]], e0: int
) -> bool:
    """True when the versions from ``e0`` on already say what the deck says."""
    if len(segments) != len(deck_rows) or len(olds) != len(segments) or not olds:
        return False  # a Closed row always changes something, unless nothing is live (handled as a write)
    for i, (old, new) in enumerate(zip(olds, segments, strict=True)):
        old_from = max(int(old["effective_from"]), e0) if i == 0 else int(old["effective_from"])
        if old_from != new["effective_from"] or old["effective_to"] != new["effective_to"]:
            return False
        if any(old[c] != new[c] for c in VALUE_COLUMNS):
            return False
    return True


def _full_mode_closures(rows: pl.DataFrame, live: pl.DataFrame, received: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Live versions of codes the deck does not list, still in force at or after ``received``."""
    gone = live.join(rows.select("_k"), on="_k", how="anti").filter(
        pl.col("effective_to").is_null() | (pl.col("effective_to") > received)
    )
    closes = gone.select("id", pl.max_horizontal(pl.col("effective_from"), pl.lit(received)).alias("effective_to"))
    in_force = gone.filter(pl.col("effective_from") <= received)
    changes = in_force.select(
        "prefix", "destination", pl.lit("Closed").alias("change"), pl.col("rate").alias("old_rate"),
        pl.lit(None, dtype=pl.Int64).alias("new_rate"), pl.lit(received, dtype=pl.Int64).alias("effective_from"),
    )
    return closes, changes.cast(CHANGE_SCHEMA)  # type: ignore[arg-type]
