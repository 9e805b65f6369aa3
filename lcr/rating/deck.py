"""A rate deck compiled for batch lookups: every version of every owner's codes, indexed once.

The input is a rate frame (``RATE_SCHEMA`` plus ``owner``) holding all versions. Compiling it
builds three tables; nothing here depends on the calls to be rated:

``codes``     one row per distinct ``(owner, prefix)`` (the row number is the code id), sorted by
              owner then number range. A prefix ``p`` of length ``L`` covers the 18-digit keys
              ``[lo, hi)``, ``lo = int(p.ljust(18, '0'))``, ``hi = lo + 10**(18 - L)``. ``parent``
              is the owner's longest proper prefix of ``p`` (any version, any time). ``latest*``
              describe the code's newest version, the one most calls hit.
``versions``  one row per rate version, sorted by ``(code, effective_from)`` (row = version id);
              ``effective_to`` is ``FOREVER`` when open; ``terms`` packs the intervals and
              the blocked flag (``pack_terms``). ``vkey`` orders the versions of a code
              by the rank of their start among all starts, for a binary search of the version
              in force at an instant.
``flat``      the prefix tree flattened into breakpoints: ``(owner, key, code)`` sorted by
              ``key``, where ``code`` is the owner's deepest code covering every key from that
              breakpoint to the next (null: none). A backward as-of join of a number's padded
              key gives its longest matching code ever defined; the batch then walks ``parent``
              only for the few calls whose code was not in force at their start.

Prefixes longer than ``KEY_DIGITS`` (18) digits are refused (``ValueError``); a number
longer than that is matched on its first 18 digits, which is exact since no prefix is longer.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

KEY_DIGITS = 18
FOREVER = 2**63 - 1

RATE_SCHEMA: dict[str, pl.DataType] = {
    "prefix": pl.String(),
    "destination": pl.String(),
    "rate": pl.Int64(),
    "effective_from": pl.Int64(),
    "effective_to": pl.Int64(),
    "blocked": pl.Boolean(),
    "first_interval": pl.Int32(),
    "next_interval": pl.Int32(),
    "connect_fee": pl.Int64(),
}
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

    @property
    def owner_enum(self) -> pl.Enum:
        return pl.Enum(list(self.owners))

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


def pack_terms() -> pl.Expr:
    """``first_interval``, ``next_interval`` and ``blocked`` in one Int64 (one gather, not three).

    Bits 0-30: next interval, 31-61: first interval, 62: blocked (intervals < 2**31 s)."""
    return (
        pl.col("next_interval").cast(pl.Int64)
        + pl.col("first_interval").cast(pl.Int64) * 2**31
        + pl.col("blocked").cast(pl.Int64) * 2**62
    )


def unpack_next(terms: pl.Expr) -> pl.Expr:
    return terms % 2**31


def unpack_first(terms: pl.Expr) -> pl.Expr:
    return (terms // 2**31) % 2**31


def unpack_blocked(terms: pl.Expr) -> pl.Expr:
    return (terms // 2**62) == 1


def _pad_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.pad_end(KEY_DIGITS, "0").cast(pl.Int64)


def compile_deck(rates: pl.DataFrame) -> CompiledDeck:
    """Index a rate frame with an ``owner`` column (all versions of all owners' codes)."""
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

    bounds = base.select(
        bad=((pl.col("first_interval") < 0) | (pl.col("next_interval") < 1)).any()
        | (pl.col("first_interval").max() >= 2**31) | (pl.col("next_interval").max() >= 2**31)
    ).collect()
    if bounds.item():
        raise ValueError("billing intervals must be 0 <= first_interval and 1 <= next_interval, below 2**31 s")
    codes = (
        base.select("owner", "prefix")
        .unique()
        .with_columns(
            lo=_pad_key(pl.col("prefix")),
            plen=pl.col("prefix").str.len_bytes().cast(pl.Int32),
        )
        .with_columns(hi=pl.col("lo") + pl.lit(10, pl.Int64).pow(KEY_DIGITS - pl.col("plen")))
        .sort("owner", "lo", "plen")
        .with_row_index("code")
        .collect()
    )
    codes = codes.with_columns(parent=_parents(codes))

    versions = (
        base.join(codes.lazy().select("owner", "prefix", "code"), on=["owner", "prefix"])
        .with_columns(pl.col("effective_to").fill_null(FOREVER))
        .sort("code", "effective_from", "effective_to", "rate")  # reference.version_order
        .collect()
    )
    versions = versions.with_columns(terms=pack_terms()).drop("first_interval", "next_interval", "blocked")
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
        )
        .sort("code")
        .collect()
    )
    codes = codes.with_columns(latest.select("latest", "latest_from", "latest_to"))

    resume = _resume(codes)
    flat = (
        pl.concat(
            [
                codes.select("owner", key=pl.col("lo"), code=pl.col("code"), prio=pl.col("plen")),
                codes.select(
                    "owner", key=pl.col("hi"), code=resume, prio=pl.lit(-1, pl.Int32)
                ).filter(pl.col("key") < 10**KEY_DIGITS),
            ]
        )
        .sort("owner", "key", "prio")
        # the last of each (owner, key) run: the deepest code starting there, else the resume
        .filter(
            (pl.col("owner") != pl.col("owner").shift(-1)).fill_null(True)
            | (pl.col("key") != pl.col("key").shift(-1)).fill_null(True)
        )
        .select("owner", "key", "code")
        .sort("key")
    )
    # One chunk each: gathers from multi-chunk columns are several times slower.
    return CompiledDeck(owners, codes.rechunk(), versions.rechunk(), flat.rechunk(), epochs.rechunk())


def _parents(codes: pl.DataFrame) -> pl.Series:
    """For each code, the id of the owner's longest proper prefix of it (null: none)."""
    lengths = sorted(codes.get_column("plen").unique().to_list())
    found = []
    for length in lengths[:-1]:
        span = 10 ** (KEY_DIGITS - length)
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
