"""A rate deck compiled for batch lookups: every version of every owner's codes, indexed once.

The input is a rate frame (``RATE_SCHEMA`` plus ``owner``) holding all versions. Compiling it
builds three tables; nothing here depends on the calls to be rated. Keys are ``digits`` wide,
``digits`` being the deck's longest prefix (at most ``KEY_DIGITS``, 18):

``codes``     one row per distinct ``(owner, prefix)`` (the row number is the code id), sorted by
              owner then number range. A prefix ``p`` of length ``L`` covers the keys
              ``[lo, hi)``, ``lo = int(p.ljust(digits, '0'))``, ``hi = lo + 10**(digits - L)``.
              ``parent`` is the owner's longest proper prefix of ``p`` (any version, any time).
              ``latest*`` describe the code's newest version, the one most calls hit.
``versions``  one row per rate version, sorted by ``(code, effective_from)`` (row = version id);
              ``effective_to`` is ``FOREVER`` when open. ``vkey`` orders the versions of a
              code by the rank of their start among all starts, for a binary search of the
              version in force at an instant. ``pack`` is what a matched call needs of its
              version in one integer (``pack_version``): the prefix length, the code (whose
              ``prefix`` a matched call gathers: cheaper than slicing it from the number), the
              destination (an id in ``destinations``) and the tariff (an id in ``tariffs``, the
              distinct rate, connect fee, intervals and blocked flag: thousands, not millions,
              so a call's gathers from it stay in the CPU cache). When the four ids would not
              fit in 63 bits (tens of millions of codes), ``tariffs`` holds the destination
              too and the pack has no destination id (``dest_bits`` 0).
``flat``      the prefix tree flattened into breakpoints, one integer ``qkey`` per breakpoint
              (``owner * stride + key``), ascending. Its ``code`` is the owner's deepest code
              covering every key from that breakpoint to the next (null: none), with that
              code's ``latest*`` copied beside it. Every owner has a breakpoint at
              key 0, so the last breakpoint at or below a call's ``qkey`` (one binary search,
              ``search_sorted``) is the owner's longest code ever defined for the number; the
              batch then walks ``parent`` only for the few calls whose code was not in force.
              Row 0 is a sentinel, ``qkey`` -1 with no code: the calls without an owner (whose
              ``qkey`` is -1) land on it, so every search lands on a row.

``stride`` is ``10**digits`` when ``len(owners) * 10**digits`` fits in an Int64 (always so for
prefixes of up to 15 digits and up to 9,000 owners). Otherwise ``bounds`` holds the distinct
breakpoint keys, ascending, and a key is replaced by its rank among them (the number of bounds
at or below it), ``stride = len(bounds) + 1``: the order is the same and the product is small.

Prefixes longer than ``KEY_DIGITS`` digits are refused (``ValueError``); a number longer than a
key is matched on its first ``digits`` digits, which is exact since no prefix is longer.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from lcr.model import RATE_FRAME_SCHEMA

KEY_DIGITS = 18
FOREVER = 2**63 - 1
_INT64_MAX = 2**63 - 1

RATE_SCHEMA: dict[str, pl.DataType] = RATE_FRAME_SCHEMA
OWNED_RATE_SCHEMA: dict[str, pl.DataType] = {"owner": pl.String(), **RATE_SCHEMA}

_IDX = pl.UInt32


@dataclass(frozen=True, slots=True)
class CompiledDeck:
    """The decks of one side (all customers' sell decks, or all carriers' buy decks)."""

    owners: tuple[str, ...]  # owner id = position; sorted names
    codes: pl.DataFrame
    versions: pl.DataFrame
    flat: pl.DataFrame
    epochs: pl.Series  # distinct effective_from values, ascending
    digits: int  # key width: the longest prefix (1 for an empty deck)
    stride: int  # qkey = owner * stride + key (or the key's rank in ``bounds``)
    bounds: pl.Series  # empty unless keys are ranked (see the module doc)
    tariffs: pl.DataFrame  # distinct (rate, connect_fee, first_interval, next_interval, blocked[, destination])
    destinations: pl.Series  # distinct destinations, sorted, then null (a version without one)
    code_bits: int  # the width of the code id in ``pack``
    dest_bits: int  # the width of the destination id in ``pack`` (0: in ``tariffs``)

    @property
    def owner_enum(self) -> pl.Enum:
        return pl.Enum(list(self.owners))

    def qkey(self, owner: pl.Expr, key: pl.Expr) -> pl.Expr:
        """``flat`` search key of an owner id (null: not an owner) and a ``KEY_DIGITS``-wide key,
        cut to the deck's width; -1 for no owner."""
        key = key // 10 ** (KEY_DIGITS - self.digits)
        if self.bounds.len():
            key = pl.lit(self.bounds).search_sorted(key, side="right").cast(pl.Int64)
        return (owner.cast(pl.Int64) * self.stride + key).fill_null(-1)

    def version_at(self, code: pl.Series, at: pl.Series) -> pl.Series:
        """Version id in force at ``at`` for each ``code`` (null: none in force), any version."""
        v = self.versions
        rank = self.epochs.search_sorted(at, side="right").cast(pl.Int64)
        qkey = code.cast(pl.Int64) * (len(self.epochs) + 1) + rank
        idx = v["vkey"].search_sorted(qkey, side="right").cast(pl.Int64) - 1
        frame = pl.DataFrame({"code": code, "at": at, "idx": idx})
        safe = idx.clip(lower_bound=0).cast(_IDX)
        return frame.select(
            pl.when(
                (pl.col("idx") >= 0)
                & (v["code"].gather(safe) == pl.col("code"))
                & (pl.col("at") < v["effective_to"].gather(safe))
            )
            .then(safe)
            .otherwise(None)
            .alias("version")
        ).to_series()

    def unpack_code(self, pack: pl.Expr) -> pl.Expr:
        return (pack // 2**5) & (2**self.code_bits - 1)

    def unpack_dest(self, pack: pl.Expr) -> pl.Expr:
        return ((pack // 2 ** (5 + self.code_bits)) & (2**self.dest_bits - 1)).cast(_IDX)

    def unpack_tariff(self, pack: pl.Expr) -> pl.Expr:
        return (pack // 2 ** (5 + self.code_bits + self.dest_bits)).cast(_IDX)


def pack_version(
    plen: pl.Expr, code: pl.Expr, dest: pl.Expr, tariff: pl.Expr, code_bits: int, dest_bits: int
) -> pl.Expr:
    """Bits 0-4: prefix length (<= 18), then ``code_bits`` bits: the code id, ``dest_bits``
    bits: the destination id, the rest: the tariff id."""
    return (
        plen.cast(pl.Int64)
        + code.cast(pl.Int64) * 2**5
        + dest.cast(pl.Int64) * 2 ** (5 + code_bits)
        + tariff.cast(pl.Int64) * 2 ** (5 + code_bits + dest_bits)
    )


def unpack_plen(pack: pl.Expr) -> pl.Expr:
    return pack & (2**5 - 1)  # a bit mask is cheaper than ``%``


def compile_deck(rates: pl.DataFrame, *, ranked: bool | None = None, folded: bool | None = None) -> CompiledDeck:
    """Index a rate frame with an ``owner`` column (all versions of all owners' codes).

    ``ranked`` forces ranked keys on or off (tests); by default only when ``owner * 10**digits``
    would overflow an Int64. ``folded`` forces the destination into ``tariffs`` or out of it
    (tests); by default only when the ids would not fit a 63-bit pack."""
    missing = [c for c in OWNED_RATE_SCHEMA if c not in rates.columns]
    if missing:
        raise ValueError(f"rate frame lacks columns {missing}")
    owners = tuple(sorted(rates.get_column("owner").unique().drop_nulls().to_list()))
    enum = pl.Enum(list(owners))
    base = rates.lazy().select(
        pl.col("owner").cast(pl.String).cast(enum).to_physical().alias("owner"),
        *(pl.col(c).cast(t) for c, t in RATE_SCHEMA.items()),
    )
    longest = base.select(pl.col("prefix").str.len_bytes().max()).collect().item()
    if longest is not None and longest > KEY_DIGITS:
        raise ValueError(f"a prefix has {longest} digits; at most {KEY_DIGITS} are supported")
    digits = max(longest or 1, 1)

    bad = base.select(
        bad=((pl.col("first_interval") < 0) | (pl.col("next_interval") < 1)).any()
        | (pl.col("first_interval").max() >= 2**31) | (pl.col("next_interval").max() >= 2**31)
    ).collect()
    if bad.item():
        raise ValueError("billing intervals must be 0 <= first_interval and 1 <= next_interval, below 2**31 s")
    codes = (
        base.select("owner", "prefix")
        .unique()
        .with_columns(
            lo=pl.col("prefix").str.pad_end(digits, "0").cast(pl.Int64),
            plen=pl.col("prefix").str.len_bytes().cast(pl.Int32),
        )
        .with_columns(hi=pl.col("lo") + pl.lit(10, pl.Int64).pow(digits - pl.col("plen")))
        .sort("owner", "lo", "plen")
        .with_row_index("code")
        .collect()
    )
    codes = codes.with_columns(parent=_parents(codes, digits))

    versions = (
        base.join(codes.lazy().select("owner", "prefix", "code"), on=["owner", "prefix"])
        .with_columns(pl.col("effective_to").fill_null(FOREVER))
        .sort("code", "effective_from", "effective_to", "rate")  # reference.version_order
        .collect()
    )
    # What a matched call needs of its version, in one Int64 (``pack``): the prefix length, the
    # code's id, the destination's id in ``destinations`` and the tariff's id in ``tariffs``,
    # small tables of distinct values whose gathers stay in the CPU cache.
    terms = ["rate", "connect_fee", "first_interval", "next_interval", "blocked"]
    tariffs = versions.select(terms).unique().sort(terms)
    names = versions.get_column("destination").unique().drop_nulls().sort()
    code_bits = max(codes.height.bit_length(), 1)
    dest_bits = names.len().bit_length()  # ids 0 .. len(names), the last one for no destination
    if folded is None:
        folded = 5 + code_bits + dest_bits + tariffs.height.bit_length() > 63
    if folded:
        terms.append("destination")
        tariffs = versions.select(terms).unique().sort(terms, nulls_last=True)
        names, dest_bits = names.clear(), 0
    if 5 + code_bits + dest_bits + tariffs.height.bit_length() > 63:
        raise ValueError(f"{codes.height} codes and {tariffs.height} tariffs do not fit a 63-bit pack")
    destinations = pl.concat([names, pl.Series([None], dtype=pl.String)])
    dest = pl.col("destination").cast(pl.Enum(names.to_list())).to_physical().fill_null(names.len())
    versions = (
        versions.lazy()
        .join(tariffs.lazy().with_row_index("tariff"), on=terms, how="left", maintain_order="left", nulls_equal=True)
        .with_columns(
            pack=pack_version(
                pl.col("prefix").str.len_bytes(),
                pl.col("code"),
                dest if dest_bits else pl.lit(0),
                pl.col("tariff"),
                code_bits,
                dest_bits,
            )
        )
        .drop("tariff")
        .collect()
    )
    epochs = versions.get_column("effective_from").unique().sort()
    versions = versions.with_columns(
        vkey=pl.col("code").cast(pl.Int64) * (len(epochs) + 1)
        + epochs.search_sorted(versions.get_column("effective_from"), side="right").cast(pl.Int64)
    )
    latest = (
        versions.lazy()
        .with_row_index("version")
        .group_by("code")
        .agg(
            latest=pl.col("version").last(),
            latest_from=pl.col("effective_from").last(),
            latest_to=pl.col("effective_to").last(),
            latest_pack=pl.col("pack").last(),
        )
        .sort("code")
        .collect()
    )
    codes = codes.with_columns(latest.select("latest", "latest_from", "latest_to", "latest_pack"))

    resume = _resume(codes)
    breaks = (
        pl.concat(
            [
                codes.select("owner", key=pl.col("lo"), code=pl.col("code"), prio=pl.col("plen")),
                codes.select(
                    "owner", key=pl.col("hi"), code=resume, prio=pl.lit(-1, pl.Int32)
                ).filter(pl.col("key") < 10**digits),
                pl.DataFrame(  # every owner starts at key 0, with no code unless one starts there
                    {"owner": range(len(owners)), "key": 0, "code": None, "prio": -2},
                    schema={"owner": pl.UInt32, "key": pl.Int64, "code": _IDX, "prio": pl.Int32},
                ),
            ],
            how="vertical_relaxed",
        )
        .sort("owner", "key", "prio")
        # the last of each (owner, key) run: the deepest code starting there, else the resume
        .filter(
            (pl.col("owner") != pl.col("owner").shift(-1)).fill_null(True)
            | (pl.col("key") != pl.col("key").shift(-1)).fill_null(True)
        )
        .select("owner", "key", pl.col("code").cast(_IDX))
    )
    fits = len(owners) * 10**digits <= _INT64_MAX
    if ranked is None:
        ranked = not fits
    bounds = breaks.get_column("key").unique().sort() if ranked else pl.Series("bounds", [], pl.Int64)
    stride = bounds.len() + 1 if ranked else 10**digits
    rank = bounds.search_sorted(breaks.get_column("key"), side="right").cast(pl.Int64) if ranked else None
    flat = breaks.select(
        qkey=pl.col("owner").cast(pl.Int64) * stride + (pl.lit(rank) if rank is not None else pl.col("key")),
        code=pl.col("code"),
    )
    flat = flat.with_columns(  # the code's fields beside it: no second gather per call
        codes.select("latest_from", "latest_to", "latest_pack").gather(flat.get_column("code"))
    )
    flat = pl.concat([flat.clear(1).with_columns(qkey=pl.lit(-1, pl.Int64)), flat])  # the sentinel
    # One chunk each: gathers from multi-chunk columns are several times slower.
    return CompiledDeck(
        owners,
        codes.rechunk(),
        versions.rechunk(),
        flat.rechunk(),
        epochs.rechunk(),
        digits,
        stride,
        bounds.rechunk(),
        tariffs.rechunk(),
        destinations.rechunk(),
        code_bits,
        dest_bits,
    )


def _parents(codes: pl.DataFrame, digits: int) -> pl.Series:
    """For each code, the id of the owner's longest proper prefix of it (null: none)."""
    lengths = sorted(codes.get_column("plen").unique().to_list())
    found = []
    for length in lengths[:-1]:
        span = 10 ** (digits - length)
        level = codes.lazy().filter(pl.col("plen") == length).select("owner", anc=pl.col("lo"), cand=pl.col("code"))
        found.append(
            codes.lazy()
            .filter(pl.col("plen") > length)
            .select("code", "owner", anc=(pl.col("lo") // span) * span)
            .join(level, on=["owner", "anc"], how="inner")
            .select("code", "cand", plen=pl.lit(length, pl.Int32))
        )
    parent = pl.Series("parent", [None] * codes.height, dtype=_IDX)
    if not found:
        return parent
    best = (
        pl.concat(found)
        .sort("code", "plen")
        .filter((pl.col("code") != pl.col("code").shift(-1)).fill_null(True))  # the longest
        .collect()
    )
    if best.height:
        parent = parent.scatter(best["code"], best["cand"])
    return parent


def _resume(codes: pl.DataFrame) -> pl.Series:
    """For each code, the nearest ancestor still covering the key just past its range."""
    parent, hi = codes.get_column("parent"), codes.get_column("hi")
    anc = parent
    while True:
        frame = pl.DataFrame({"anc": anc, "hi": hi, "anc_hi": hi.gather(anc), "up": parent.gather(anc)})
        short = frame.select((pl.col("anc_hi") <= pl.col("hi")).fill_null(False)).to_series()
        if not short.any():
            return anc.alias("resume")
        anc = frame.select(pl.when(short).then(pl.col("up")).otherwise(pl.col("anc"))).to_series()
