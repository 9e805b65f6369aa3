"""Moving a snapshot forward in time by patching it: the timed switch without a full build.

A snapshot for ``at`` answers for ``[at, valid_until)``; at a later instant ``t`` only the codes
with a version boundary in ``(at, t]`` (a version starting or ending) can answer differently.
``advance_snapshot`` builds the snapshot for ``t`` from the one for ``at``:

- carriers: a union prefix P's route list depends only on the codes that are prefixes of P, so
  it can change only if P starts with a changed code C. Those lists are recompiled from the rows
  whose prefix starts with some C or is a proper prefix of some C (every code a prefix of such a
  P), with the same vectorised compiler; every other list is shared with the old snapshot;
- customers: a sell code's entry depends on its own versions, so only changed codes are
  recompiled, in the customers whose decks changed; and on the union entry it carries
  (``compile.sell_hint``), so the codes at union prefixes that were recompiled, came, went or
  stopped or started being leaves take the new entry.

The new snapshot shares all unchanged entries (dicts are copied, their values are not): the
memory of a timed switch is a fraction of a snapshot's, and it takes milliseconds to seconds
instead of a full build. ``build_snapshot(inputs, t)`` and ``advance_snapshot(build_snapshot(
inputs, at), inputs, t)`` answer every query alike (a property test checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from lcr.routing.compile import (
    CarrierTables,
    Entry,
    Interner,
    SellTable,
    compile_carriers,
    compile_sell,
    inner_keys,
    key,
    prefix_of,
    sell_hint,
    start_lengths,
)
from lcr.routing.inputs import RATE_SCHEMA, RoutingInputs, next_change, rate_columns
from lcr.routing.snapshot import Snapshot


def changed_prefixes(frame: pl.DataFrame, after: int, until: int) -> set[str]:
    """Prefixes of ``frame`` with a version starting or ending in ``(after, until]``."""
    f = pl.col("effective_from")
    t = pl.col("effective_to")
    rows = rate_columns(frame).filter(((f > after) & (f <= until)) | ((t > after) & (t <= until)))
    return set(rows.select("prefix").unique().collect()["prefix"].to_list())


def differing_prefixes(before: pl.DataFrame | None, after: pl.DataFrame | None) -> set[str]:
    """Prefixes whose versions differ between two frames of one owner (a deck import's effect)."""
    if before is after:
        return set()
    frames = [rate_columns(f).with_columns(pl.lit(i).alias("_side")) for i, f in enumerate((before, after))
              if f is not None]
    rows = pl.concat(frames).group_by(list(RATE_SCHEMA)).agg(pl.len().alias("n")).filter(pl.col("n") == 1)
    return set(rows.select("prefix").unique().collect()["prefix"].to_list())


def _under(prefix: str, changed: set[str], lengths: Iterable[int]) -> bool:
    """Does ``prefix`` start with one of ``changed`` (whose lengths are ``lengths``)?"""
    return any(prefix[:n] in changed for n in lengths if n <= len(prefix))


def _related(frame: pl.DataFrame, changed: set[str]) -> pl.DataFrame:
    """The rows whose prefix starts with a changed code, or is a proper prefix of one."""
    ancestors = pl.Series([c[:i] for c in changed for i in range(1, len(c))], dtype=pl.String)
    below = [
        pl.col("prefix").str.slice(0, n).is_in(pl.Series([c for c in changed if len(c) == n], dtype=pl.String))
        for n in sorted({len(c) for c in changed})
    ]
    return frame.filter(pl.col("prefix").is_in(ancestors) | pl.any_horizontal(below))


def _advance_carriers(
    old: CarrierTables, inputs: RoutingInputs, at: int, t: int, before: RoutingInputs | None
) -> tuple[CarrierTables, set[int]]:
    """The patched tables, and the keys whose sell hints may differ (``compile.sell_hint``)."""
    names = {c.name for c in old.carriers}
    changed: set[str] = set()
    for name, frame in inputs.carrier_rates.items():
        if name in names:
            changed |= changed_prefixes(frame, at, t)
    if before is not None:  # the decks were edited since the snapshot was built
        for name in names:
            changed |= differing_prefixes(before.carrier_rates.get(name), inputs.carrier_rates.get(name))
    if not changed:
        return old, set()
    lengths = sorted({len(c) for c in changed})
    part = compile_carriers(
        old.carriers,
        {name: _related(frame, changed) for name, frame in inputs.carrier_rates.items() if name in names},
        t,
        Interner(),
    )
    union = dict(old.union)
    blocked = dict(old.blocked)
    # The old lists to drop: those under a changed code. Such a prefix is either in ``part`` (a
    # row of it is in force at t, and every row under a changed code is related) or a changed code
    # itself (its last version ended): no need to scan the whole union.
    mine = [k for k in part.union if _under(prefix_of(k), changed, lengths)]
    touched = [k for k in {*mine, *map(key, changed)} if k in union]
    for k in touched:
        blocked.pop(union.pop(k)[3], None)
    touched += mine
    base = max((e[3] for e in old.union.values()), default=-1) + 1  # blocked lists are keyed by these uids
    for k in mine:
        entry = part.union[k]
        uid = base + entry[3]
        union[k] = _with_uid(entry, uid)
        if entry[3] in part.blocked:
            blocked[uid] = part.blocked[entry[3]]
    # prefixes came or went: the start lengths and the leaves may differ
    start, max_len, inner = old.start, old.max_len, old.inner
    if union.keys() != old.union.keys():
        prefixes = list(map(prefix_of, union))
        start, max_len = _starts(prefixes)
        inner = inner_keys(prefixes)
    tables = CarrierTables(
        carriers=old.carriers,
        union=union,
        max_len=max_len,
        start=start,
        blocked=blocked,
        inner=inner,
    )
    return tables, {*touched, *(inner ^ old.inner)}


def _starts(prefixes: list[str]) -> tuple[dict[str, int], int]:
    """(start lengths, longest prefix) of a table's prefixes."""
    return start_lengths(prefixes), max(map(len, prefixes), default=0)


def _with_uid(entry: Entry, uid: int) -> Entry:
    return (entry[0], entry[1], entry[2], uid)


def _advance_sell(
    old: SellTable, frame: pl.DataFrame | None, at: int, t: int, edited: set[str], carriers: CarrierTables,
    hinted: set[int],
) -> SellTable:
    """``edited``: prefixes whose versions differ from those the table was built from; ``carriers``:
    the patched carrier tables; ``hinted``: the keys whose sell hints may have changed."""
    changed = edited if frame is None else edited | changed_prefixes(frame, at, t)
    stale = [k for k in hinted if k in old.codes]
    if not changed and not stale:
        return old
    codes = dict(old.codes)
    for k in stale:
        code = codes[k]
        codes[k] = (*code[:5], sell_hint(carriers, k))
    if not changed:
        return SellTable(old.customer, codes, old.max_len, old.start, old.factor)
    rows = None if frame is None else frame.filter(pl.col("prefix").is_in(pl.Series(sorted(changed), dtype=pl.String)))
    part = compile_sell(old.customer, rows, t, carriers)
    for prefix in changed:
        codes.pop(key(prefix), None)
    codes.update(part.codes)
    start, max_len = (_starts(list(map(prefix_of, codes))) if codes.keys() != old.codes.keys()
                      else (old.start, old.max_len))
    return SellTable(old.customer, codes, max_len, start, old.factor)


def advance_snapshot(snapshot: Snapshot, inputs: RoutingInputs, t: int) -> Snapshot:
    """The snapshot of ``inputs`` for the instant ``t >= snapshot.at``, patched from ``snapshot``
    (which must have been built from the same ``inputs``)."""
    return _patch(snapshot, None, inputs, t)


def reload_snapshot(snapshot: Snapshot, before: RoutingInputs, after: RoutingInputs, t: int) -> Snapshot | None:
    """The snapshot of ``after`` for ``t >= snapshot.at``, patched from ``snapshot`` (built from
    ``before``): after a deck import only the codes whose versions differ are recompiled. None
    when the parties differ (a carrier or customer added, removed or changed): build afresh."""
    if before.carriers != after.carriers or before.customers != after.customers:
        return None
    return _patch(snapshot, before, after, t)


def _patch(snapshot: Snapshot, before: RoutingInputs | None, inputs: RoutingInputs, t: int) -> Snapshot:
    at = snapshot.at
    if t < at:
        raise ValueError(f"cannot move a snapshot for {at} back to {t}")
    carriers, hinted = _advance_carriers(snapshot.tables, inputs, at, t, before)
    sell: Mapping[str, SellTable] = {
        name: _advance_sell(
            table,
            inputs.customer_rates.get(name),
            at,
            t,
            set() if before is None else differing_prefixes(before.customer_rates.get(name),
                                                            inputs.customer_rates.get(name)),
            carriers,
            hinted,
        )
        for name, table in snapshot.sell_tables.items()
    }
    frames = [*inputs.carrier_rates.values(), *inputs.customer_rates.values()]
    credit = snapshot.credit if before is None else inputs.credit
    return Snapshot(t, next_change(frames, t), carriers, sell, credit, previous=snapshot)
