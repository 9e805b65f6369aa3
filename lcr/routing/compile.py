"""Compiling rate decks into the lookup tables of a route snapshot (vectorised, with Polars).

The key observation: let P be the longest prefix of the UNION of all carriers' codes (in force
at ``at``) that matches a number N. No carrier has a code strictly between P and N (it would be
in the union, and longer than P), so every carrier's longest match for N is its longest match
for P. So routing needs, per union prefix P, one list: each carrier's longest match for P,
blocked ones left out, sorted by rate then carrier name. ``compile_carriers`` computes those
lists for every P at once, in Polars:

1. the in-force rows of every carrier, one frame ``(rid, prefix, rate, blocked, c, uid)``
   (``c``: the carrier's rank by name, ``uid``: the prefix's rank in the union);
2. the union as a tree: each P's parent is its longest proper prefix in the union (P's own
   prefixes ``P[:1] .. P[:-1]`` joined with the union), its depth the number of union
   prefixes above it;
3. top-down, one depth at a time: P's list is its own codes plus its parent's list without
   the carriers that have a code of their own at P (``_longest_codes``); blocked codes stay
   in the lists (they still hide shorter codes of their carrier), then are set aside;
4. one sort of all lists by (P, rate, carrier name), packed into one Int64 key;
5. in Python, once: one ``Route`` per unblocked carrier code, shared by every list that holds
   it, and one tuple per P. Lists could only be equal where every own code of P is blocked;
   those are interned. (In the benchmark world every list is distinct.)

Customer sell decks compile to one small dict each (``compile_sell``), with the margin
threshold of every sell code precomputed, so the margin filter is a ``bisect`` at query time.
A sell code S that is also a union prefix with no union prefix under it (a leaf of the union)
carries that union entry: a number whose longest sell code is S has S as its longest union
prefix too, so the lookup skips the union probe (most NANP numbers of an NPANXX sell deck).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import cast

import polars as pl

from lcr.model import Carrier, Customer, Gateway
from lcr.routing.answer import Route
from lcr.routing.inputs import in_force, rate_columns

#: A union prefix's compiled list: (routes sorted by rate then carrier name, their rates, the
#: destination name of the code (first carrier by name holding exactly that prefix), entry id).
Entry = tuple[tuple[Route, ...], tuple[int, ...], str, int]
#: A customer sell code: (prefix, destination, sell rate, margin threshold, blocked, the union
#: entry of the same prefix when it is a leaf of the union, else None: see ``sell_hint``).
SellEntry = tuple[str, str, int, int, bool, "Entry | None"]
#: A carrier whose longest code for a union prefix is blocked: (carrier index, prefix, rate).
BlockedCode = tuple[int, str, int]


@dataclass(frozen=True, slots=True)
class CarrierTables:
    carriers: tuple[Carrier, ...]  # routable carriers (with a gateway), sorted by name
    union: dict[int, Entry]  # key(union prefix) -> entry
    max_len: int  # the longest union prefix
    start: dict[str, int]  # see start_lengths()
    blocked: dict[int, tuple[BlockedCode, ...]]  # entry id -> carriers blocked there
    inner: frozenset[int] = frozenset()  # keys of union prefixes with a union prefix under them

    @property
    def distinct_lists(self) -> int:
        """Distinct route lists after interning (statistics; a pass over the union)."""
        return len({id(entry[0]) for entry in self.union.values()})


def sell_hint(tables: CarrierTables, k: int) -> Entry | None:
    """The union entry a sell code keyed ``k`` carries: the entry of the same prefix if the union
    has it and nothing under it (then it is every matching number's longest union prefix)."""
    entry = tables.union.get(k)
    return None if entry is None or k in tables.inner else entry


def inner_keys(prefixes: Sequence[str]) -> frozenset[int]:
    """Keys of the ``prefixes`` that are a proper prefix of another of them (not leaves)."""
    frame = pl.DataFrame({"prefix": list(prefixes)}, schema={"prefix": pl.String})
    above = (
        frame.lazy()
        .with_columns(L=pl.int_ranges(1, pl.col("prefix").str.len_chars()))
        .explode("L")
        .filter(pl.col("L").is_not_null())
        .select(pl.col("prefix").str.slice(0, pl.col("L")))
        .unique()
        .join(frame.lazy(), on="prefix", how="semi")
        .collect()
    )
    return frozenset(map(key, above["prefix"].to_list()))


@dataclass(frozen=True, slots=True)
class SellTable:
    customer: Customer
    codes: dict[int, SellEntry]  # key(prefix) -> sell code
    max_len: int
    start: dict[str, int]  # see start_lengths()
    factor: Fraction  # keep a carrier iff rate <= sell * factor, factor = (100 - min_margin) / 100


def key(prefix: str) -> int:
    """A prefix as a dict key: the integer ``1<prefix>`` (``"44"`` -> 144, ``"0"`` -> 10).

    Probing a number's prefixes longest first is then ``v = key(n[:L]); v //= 10`` per step,
    cheaper than slicing and hashing a new string per step.
    """
    return int(prefix) + 10 ** len(prefix)


def prefix_of(k: int) -> str:
    """The prefix a ``key`` stands for: ``prefix_of(key(p)) == p``."""
    return str(k)[1:]


HEAD = 3


def start_lengths(prefixes: list[str]) -> dict[str, int]:
    """Where to start probing a number: for each ``HEAD``-digit head, the longest prefix of the
    set that starts with it. A number can only match prefixes that start with its head, or are
    shorter than ``HEAD`` digits (numbers with a head not in the table start at ``HEAD - 1``)."""
    out: dict[str, int] = {}
    for p in prefixes:
        if len(p) >= HEAD:
            head = p[:HEAD]
            if len(p) > out.get(head, 0):
                out[head] = len(p)
    return out


def margin_factor(min_margin: str) -> Fraction:
    """``(100 - min_margin) / 100``, exactly (``min_margin`` is a decimal string)."""
    return (100 - Fraction(Decimal(min_margin.strip() or "0"))) / 100


def threshold(sell_rate: int, factor: Fraction) -> int:
    """The highest integer rate kept under ``sell_rate``: floor(sell_rate * factor)."""
    return sell_rate * factor.numerator // factor.denominator


_RATE = attrgetter("rate")

# Frozen slots dataclasses are slow to construct through ``__init__`` (one ``object.__setattr__``
# call per field). Where millions are made (build) or on the hot path (lookup), they are
# assembled through their slot descriptors instead: what ``__init__`` does, minus its overhead.
_new = object.__new__
_set_carrier = Route.__dict__["carrier"].__set__
_set_gateway = Route.__dict__["gateway"].__set__
_set_tech = Route.__dict__["tech_prefix"].__set__
_set_prefix = Route.__dict__["prefix"].__set__
_set_rate = Route.__dict__["rate"].__set__


def make_route(carrier: str, gateway: Gateway, tech_prefix: str, prefix: str, rate: int) -> Route:
    """``Route(carrier, gateway, tech_prefix, prefix, rate)``, faster."""
    r = _new(Route)
    _set_carrier(r, carrier)
    _set_gateway(r, gateway)
    _set_tech(r, tech_prefix)
    _set_prefix(r, prefix)
    _set_rate(r, rate)
    return r


class Interner:
    """Shares equal strings and ints among the compiled tables (millions of rows, few values)."""

    def __init__(self) -> None:
        self.str: dict[str, str] = {}
        self.int: dict[int, int] = {}
        self.key: dict[str, int] = {}  # prefix -> key(prefix)

    def strs(self, values: list[str]) -> list[str]:
        get = self.str.setdefault
        return [get(v, v) for v in values]

    def ints(self, values: list[int]) -> list[int]:
        get = self.int.setdefault
        return [get(v, v) for v in values]

    def keys(self, prefixes: list[str]) -> list[int]:
        cache = self.key
        out = []
        for p in prefixes:
            k = cache.get(p)
            if k is None:
                k = cache[p] = key(p)
            out.append(k)
        return out


def _in_force_rows(parts: list[pl.LazyFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, union): every in-force carrier row ``(rid, prefix, destination, rate, blocked, c,
    uid)``, in carrier order, and the union of their prefixes ``(uid, prefix, parent, depth)``,
    ``uid`` in prefix order, ``parent`` the longest proper prefix in the union (null at the top),
    ``depth`` the number of union prefixes above it."""
    rows = (
        pl.concat(parts)
        .with_columns((pl.col("prefix").rank("dense") - 1).cast(pl.UInt32).alias("uid"))
        .collect()
        .with_row_index("rid")
    )
    union = rows.lazy().group_by("uid").agg(pl.col("prefix").first()).sort("uid")
    above = (
        union.with_columns(L=pl.int_ranges(1, pl.col("prefix").str.len_chars()))
        .explode("L")
        .select("uid", "L", pl.col("prefix").str.slice(0, pl.col("L")))
        .join(union.rename({"uid": "aid"}), on="prefix")
        .group_by("uid")
        .agg(
            (pl.col("L").cast(pl.Int64) * 2**32 + pl.col("aid").cast(pl.Int64)).max().alias("packed"),
            pl.len().alias("depth"),
        )
        .select("uid", (pl.col("packed") % 2**32).cast(pl.UInt32).alias("parent"), "depth")
    )
    tree = union.join(above, on="uid", how="left").with_columns(pl.col("depth").fill_null(0)).sort("uid")
    return rows, tree.collect()


def _longest_codes(rows: pl.DataFrame, union: pl.DataFrame) -> pl.DataFrame:
    """``(uid, c, rid)``: every carrier's longest code for every union prefix.

    Top-down, one tree level at a time: a prefix's list is its own codes plus its parent's list
    without the carriers that have a code of their own here (a longer match overrides).
    """
    own = rows.select("uid", "c", "rid").join(union.select("uid", "depth"), on="uid")
    parent = union.filter(pl.col("depth") > 0).select("uid", "parent", "depth")
    levels = [own.filter(pl.col("depth") == 0).drop("depth")]
    for d in range(1, cast(int, union["depth"].max() or 0) + 1):
        own_d = own.filter(pl.col("depth") == d).drop("depth")
        inherited = (
            parent.filter(pl.col("depth") == d)
            .drop("depth")
            .join(levels[-1].rename({"uid": "parent"}), on="parent")
            .drop("parent")
            .join(own_d, on=["uid", "c"], how="anti")
            .select("uid", "c", "rid")
        )
        levels.append(pl.concat([own_d, inherited]))
    return pl.concat(levels)


def _sorted_routes(found: pl.DataFrame, carriers: int) -> pl.DataFrame:
    """``found`` (unblocked ``uid, c, rid, rate``) sorted by union prefix, rate, carrier name."""
    rank = pl.col("rate").rank("dense").cast(pl.Int64)
    bits_c = max(1, carriers.bit_length())
    bits_r = max(1, len(found).bit_length())
    bits_u = max(1, (cast(int, found["uid"].max() or 0) + 1).bit_length())
    if bits_c + bits_r + bits_u <= 62:  # one packed Int64 sorts much faster than three columns
        packed = (pl.col("uid").cast(pl.Int64) * 2 ** (bits_r + bits_c)) + rank * 2**bits_c + pl.col("c")
        return found.sort(packed)
    return found.sort("uid", "rate", "c")  # pragma: no cover - a world beyond 2**62 combinations


@contextmanager
def _no_gc() -> Iterator[None]:
    """Build millions of objects without the cyclic GC rescanning them all along the way."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_carriers(
    carriers: Sequence[Carrier], rates: Mapping[str, pl.DataFrame], at: int, interner: Interner | None = None
) -> CarrierTables:
    routable = tuple(sorted((c for c in carriers if c.gateways), key=lambda c: c.name))
    parts = [
        rate_columns(rates[c.name])
        .filter(in_force(at))
        .select("prefix", "destination", "rate", "blocked", pl.lit(ci, pl.Int32).alias("c"))
        for ci, c in enumerate(routable)
        if c.name in rates
    ]
    if not parts:
        return CarrierTables(routable, {}, 0, {}, {})
    rows, union = _in_force_rows(parts)
    if rows.height == 0:
        return CarrierTables(routable, {}, 0, {}, {})
    longest = _longest_codes(rows, union).join(rows.select("rid", "rate", "blocked"), on="rid")
    matched = _sorted_routes(longest.filter(~pl.col("blocked")), len(routable))
    blocked_df = longest.filter(pl.col("blocked")).sort("uid", "c")
    runs = matched.group_by("uid", maintain_order=True).len()
    # rows are in carrier order, so a prefix's first row is its first carrier by name's
    first = rows.group_by("uid").agg(pl.col("destination").first()).sort("uid")
    # Lists are distinct unless every own code of a prefix is blocked (a list holds the prefix's
    # own codes, found in no list above it), so only those prefixes are looked up for sharing.
    all_blocked = set(rows.group_by("uid").agg(pl.col("blocked").all()).filter(pl.col("blocked"))["uid"].to_list())

    with _no_gc():
        interner = interner or Interner()
        prefixes = interner.strs(union["prefix"].to_list())
        destination = interner.strs(first["destination"].to_list())
        row_rate = interner.ints(rows["rate"].to_list())
        row_uid = rows["uid"].to_list()
        row_c = rows["c"].to_list()
        heads = [(c.name, c.gateways[0], c.tech_prefix) for c in routable]
        # one Route per unblocked carrier code, shared by every list that holds it
        route_of: list[Route | None] = [None] * rows.height
        for rid, blocked in enumerate(rows["blocked"].to_list()):
            if not blocked:
                name, gateway, tech = heads[row_c[rid]]
                route_of[rid] = make_route(name, gateway, tech, prefixes[row_uid[rid]], row_rate[rid])
        flat: list[Route] = []
        rid_col = matched["rid"]
        route_getter = cast(Callable[[int], Route], route_of.__getitem__)  # every matched rid has its Route
        for offset in range(0, len(rid_col), 1 << 20):  # a million Python ints at a time
            flat += map(route_getter, rid_col.slice(offset, 1 << 20).to_list())
        del route_of

        shared: dict[tuple[int, ...], tuple[tuple[Route, ...], tuple[int, ...]]] = {}
        empty: tuple[tuple[Route, ...], tuple[int, ...]] = ((), ())
        per_uid = [empty] * union.height
        start = 0
        for uid, count in zip(runs["uid"].to_list(), runs["len"].to_list(), strict=True):
            end = start + count
            routes = tuple(flat[start:end])
            lists = (routes, tuple(map(_RATE, routes)))
            if uid in all_blocked:
                lists = shared.setdefault(tuple(map(id, routes)), lists)
            per_uid[uid] = lists
            start = end
        del flat

        keys = interner.keys(prefixes)
        table = {keys[uid]: (*per_uid[uid], destination[uid], uid) for uid in range(union.height)}
        blocked_at: dict[int, list[BlockedCode]] = {}
        for uid, c, rid in zip(*(blocked_df[k].to_list() for k in ("uid", "c", "rid")), strict=True):
            blocked_at.setdefault(uid, []).append((c, prefixes[row_uid[rid]], row_rate[rid]))
    return CarrierTables(
        carriers=routable,
        union=table,
        max_len=max(map(len, prefixes)),
        start=start_lengths(prefixes),
        blocked={uid: tuple(v) for uid, v in blocked_at.items()},
        inner=frozenset(keys[uid] for uid in union["parent"].drop_nulls().unique().to_list()),
    )


def compile_sell(
    customer: Customer, deck: pl.DataFrame | None, at: int, carriers: CarrierTables, interner: Interner | None = None
) -> SellTable:
    """The customer's sell codes in force at ``at``; ``carriers``: the same instant's carrier
    tables (each code carries ``sell_hint(carriers, code)``)."""
    factor = margin_factor(customer.min_margin)
    if deck is None:
        return SellTable(customer, {}, 0, {}, factor)
    interner = interner or Interner()
    rows = rate_columns(deck).filter(in_force(at)).collect()
    with _no_gc():
        return _sell_table(customer, rows, factor, carriers, interner)


def _sell_table(
    customer: Customer, rows: pl.DataFrame, factor: Fraction, carriers: CarrierTables, interner: Interner
) -> SellTable:
    prefixes = interner.strs(rows["prefix"].to_list())
    rates = interner.ints(rows["rate"].to_list())
    limits: dict[int, int] = {}
    for r in set(rates):
        limits[r] = interner.int.setdefault(threshold(r, factor), threshold(r, factor))
    codes: dict[int, SellEntry] = {
        k: (p, d, r, limits[r], b, sell_hint(carriers, k))
        for k, p, d, r, b in zip(
            interner.keys(prefixes),
            prefixes,
            interner.strs(rows["destination"].to_list()),
            rates,
            rows["blocked"].to_list(),
            strict=True,
        )
    }
    return SellTable(customer, codes, max(map(len, prefixes), default=0), start_lengths(prefixes), factor)
