"""Rating a whole batch of CDRs at once with Polars: the same rules as ``reference.rate_call``.

Workload shape: millions of calls against decks of millions of rows. No Python loop runs per
call; the only loops are over prefix-tree levels, for the few calls whose longest code was not
in force at their start (a closed code, a call before a code's newest version).

How one side is matched (see ``lcr.rating.deck`` for the compiled tables):

1. every call's normalised number becomes an 18-digit key (its first 18 digits, padded with
   ``0``), and the calls are sorted by key once, for both sides;
2. a backward as-of join of the keys on the deck's flattened breakpoints, by owner, gives the
   owner's longest code whose range holds the key, whatever its dates;
3. that code matches when the number is at least as long as the prefix (padding must not
   match) and its newest version is in force at the call's start; otherwise the calls in
   question look for an older version in force (a binary search over ``(code, start rank)``)
   and, failing that, move to the parent code, until matched or out of ancestors.

The two sides are matched in parallel (two threads; Polars releases the GIL). The amounts are
computed in the calls' own order, in integer micro-units. Rows come back in input order with
the CDR columns untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from lcr.rating import reasons
from lcr.rating.deck import (
    KEY_DIGITS,
    CompiledDeck,
    compile_deck,
    unpack_blocked,
    unpack_first,
    unpack_next,
)
from lcr.rating.reference import MAX_DIGITS

CDR_COLUMNS = ("call_id", "customer", "carrier", "dst", "start_time", "billsec")

SELL_COLUMNS: dict[str, pl.DataType] = {
    "sell_prefix": pl.String(),
    "sell_destination": pl.String(),
    "sell_rate": pl.Int64(),
    "sell_billed": pl.Int64(),
    "sell_amount": pl.Int64(),
    "sell_blocked": pl.Boolean(),
    "sell_reason": pl.String(),
}
BUY_COLUMNS: dict[str, pl.DataType] = {
    "buy_prefix": pl.String(),
    "buy_rate": pl.Int64(),
    "buy_billed": pl.Int64(),
    "buy_amount": pl.Int64(),
    "buy_blocked": pl.Boolean(),
    "buy_reason": pl.String(),
}
OUTPUT_COLUMNS: dict[str, pl.DataType] = {**SELL_COLUMNS, **BUY_COLUMNS, "margin": pl.Int64()}

_IDX = pl.UInt32


def rate_batch(
    cdrs: pl.DataFrame,
    sell_rates: pl.DataFrame,
    buy_rates: pl.DataFrame,
    *,
    tech_prefixes: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Rate every CDR on both sides; the CDR columns come back unchanged, in the same order.

    ``sell_rates`` / ``buy_rates``: every version of the customers' / carriers' codes, with
    an ``owner`` column (see ``lcr.rating.deck.OWNED_RATE_SCHEMA``). ``cdrs`` needs at least
    ``call_id, customer, carrier, dst, start_time (Int64), billsec (Int64)``.
    ``tech_prefixes`` maps a customer to the tech prefix to strip from its numbers.
    Adds ``OUTPUT_COLUMNS``; an unrated side has only its ``*_reason`` set.
    """
    return rate_compiled(cdrs, compile_deck(sell_rates), compile_deck(buy_rates), tech_prefixes=tech_prefixes)


def _number(dst: pl.Expr, tech: pl.Expr | None) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """``(number, lead, digits)``: the number after the tech prefix, the length of its ``+`` /
    ``00`` / ``011`` lead, and how many digits are left (null when malformed). Cheaper than
    building the normalised string: matching only needs its first 18 digits and its length."""
    if tech is not None:
        dst = (
            pl.when((tech != "") & dst.str.starts_with(tech))
            .then(dst.str.slice(tech.str.len_bytes()))
            .otherwise(dst)
        )
    lead = (
        pl.when(dst.str.starts_with("+"))
        .then(1)
        .when(dst.str.starts_with("00"))
        .then(2)
        .when(dst.str.starts_with("011"))
        .then(3)
        .otherwise(0)
    )
    length = dst.str.len_bytes().cast(pl.Int32) - lead
    ok = dst.str.contains(r"^\+?[0-9]+$") & (length >= 1) & (length <= MAX_DIGITS)
    return dst, lead, pl.when(ok).then(length)


def _present(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & (pl.col(col) != "")


def rate_compiled(
    cdrs: pl.DataFrame,
    sell: CompiledDeck,
    buy: CompiledDeck,
    *,
    tech_prefixes: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """``rate_batch`` with decks compiled beforehand (``lcr.rating.deck.compile_deck``)."""
    missing = [c for c in CDR_COLUMNS if c not in cdrs.columns]
    if missing:
        raise ValueError(f"CDR frame lacks columns {missing}")
    customer = pl.col("customer").cast(pl.String)
    tech = None
    if tech_prefixes:
        tech = customer.replace_strict(
            list(tech_prefixes), list(tech_prefixes.values()), default="", return_dtype=pl.String
        )
    bad = (
        pl.when(pl.col("_dlen").is_null())
        .then(pl.lit(reasons.bad_field("dst")))
        .when(pl.col("_t").is_null())
        .then(pl.lit(reasons.bad_field("start_time")))
        .when(pl.col("_billsec").is_null() | (pl.col("_billsec") < 0))
        .then(pl.lit(reasons.bad_field("billsec")))
    )
    number, lead, digits = _number(pl.col("dst").cast(pl.String), tech)
    prep = (
        cdrs.lazy()
        .select(
            _number=number,
            _lead=lead,
            _dlen=digits,
            _t=pl.col("start_time").cast(pl.Int64),
            _billsec=pl.col("billsec").cast(pl.Int64),
            _sell_owner=customer.cast(sell.owner_enum, strict=False).to_physical(),
            _buy_owner=pl.col("carrier").cast(pl.String).cast(buy.owner_enum, strict=False).to_physical(),
        )
        .with_columns(_bad=bad)
        .with_columns(
            _key=pl.when(pl.col("_bad").is_null())
            .then(
                pl.col("_number")
                .str.slice(pl.col("_lead"), KEY_DIGITS)
                .str.pad_end(KEY_DIGITS, "0")
                .cast(pl.Int64, strict=False)
            )
            .otherwise(-1),
            _sell_owner=pl.when(pl.col("_bad").is_null()).then(pl.col("_sell_owner")),
            _buy_owner=pl.when(pl.col("_bad").is_null()).then(pl.col("_buy_owner")),
        )
        .with_row_index("_r")
        .collect()
    )

    # One sort by key serves both sides; the matched version ids come back to call order.
    by_key = prep.lazy().select("_r", "_key", "_dlen", "_t", "_sell_owner", "_buy_owner").sort("_key").collect()
    sell_code, buy_code = pl.collect_all(
        [_longest_code(by_key, deck, side) for side, deck in (("_sell", sell), ("_buy", buy))]
    )
    key, dlen, t = by_key["_key"], by_key["_dlen"], by_key["_t"]
    with ThreadPoolExecutor(2) as pool:  # Polars releases the GIL: one side per core
        sv = pool.submit(_resolve, sell, sell_code.to_series(), key, dlen, t)
        bv = pool.submit(_resolve, buy, buy_code.to_series(), key, dlen, t)
        versions = pl.DataFrame({"_r": by_key["_r"], "_sv": sv.result(), "_bv": bv.result()}).sort("_r")

    out = cdrs.with_columns(
        *_side_columns("sell", sell, versions["_sv"]),
        *_side_columns("buy", buy, versions["_bv"]),
        _billsec=prep["_billsec"],
        _bad=prep["_bad"],
        _has_buy_owner=prep["_buy_owner"].is_not_null(),
    )
    sell_reason = (
        pl.when(pl.col("_bad").is_not_null())
        .then(pl.col("_bad"))
        .when(~_present("customer"))
        .then(pl.lit(reasons.NO_CUSTOMER))
        .when(pl.col("_sell_v").is_null())
        .then(pl.lit(reasons.NO_SELL_RATE))
    )
    buy_reason = (
        pl.when(pl.col("_bad").is_not_null())
        .then(pl.col("_bad"))
        .when(~_present("carrier"))
        .then(pl.lit(reasons.NO_CARRIER))
        .when(~pl.col("_has_buy_owner"))
        .then(pl.lit(reasons.UNKNOWN_CARRIER))
        .when(pl.col("_buy_v").is_null())
        .then(pl.lit(reasons.NO_BUY_RATE))
    )
    keep = [c for c in cdrs.columns if c not in OUTPUT_COLUMNS]
    return (
        out.lazy()
        .with_columns(
            *_cost("sell"),
            *_cost("buy"),
            unpack_blocked(pl.col("_sell_terms")).alias("sell_blocked"),
            unpack_blocked(pl.col("_buy_terms")).alias("buy_blocked"),
            sell_reason=sell_reason,
            buy_reason=buy_reason,
        )
        .with_columns(margin=pl.col("sell_amount") - pl.col("buy_amount"))
        .select(*keep, *(pl.col(c).cast(t) for c, t in OUTPUT_COLUMNS.items()))
        .collect()
    )


def _longest_code(by_key: pl.DataFrame, deck: CompiledDeck, side: str) -> pl.LazyFrame:
    """Per call (in key order), the owner's deepest code ever defined whose range holds the key."""
    owner = f"{side}_owner"
    return (
        by_key.lazy()
        .select("_key", owner)
        .join_asof(
            deck.flat.lazy().select(pl.col("owner").alias(owner), pl.col("key").alias("_key"), "code"),
            on="_key",
            by=owner,
            strategy="backward",
            check_sortedness=False,
        )
        .select("code")
    )


def _side_columns(side: str, deck: CompiledDeck, version: pl.Series) -> list[pl.Series]:
    """The matched version's fields; the billing terms come packed in one ``terms`` column."""
    v = deck.versions
    names = ["prefix", "rate", "connect_fee", "terms"] + (["destination"] if side == "sell" else [])
    got = v.select(names).gather(version)
    return [
        version.alias(f"_{side}_v"),
        got["prefix"].alias(f"{side}_prefix"),
        *([got["destination"].alias(f"{side}_destination")] if side == "sell" else []),
        got["rate"].alias(f"{side}_rate"),
        got["connect_fee"].alias(f"_{side}_fee"),
        got["terms"].alias(f"_{side}_terms"),
    ]


def _cost(side: str) -> list[pl.Expr]:
    """Billed seconds and amount (micro-units), rounded half-up per call; 0 s costs nothing."""
    billsec = pl.col("_billsec")
    first, nxt = unpack_first(pl.col(f"_{side}_terms")), unpack_next(pl.col(f"_{side}_terms"))
    matched = pl.col(f"_{side}_v").is_not_null()
    billed = (
        pl.when(~matched)
        .then(None)
        .when(billsec <= 0)
        .then(0)
        .when(billsec <= first)
        .then(first)
        .otherwise(first + (billsec - first + nxt - 1) // nxt * nxt)
    )
    product = billed * pl.col(f"{side}_rate")
    rounded = (
        pl.when(product >= 0)
        .then((2 * product + 60) // 120)
        .otherwise(-((-2 * product + 60) // 120))
    )
    amount = pl.when(billed == 0).then(0).otherwise(pl.col(f"_{side}_fee") + rounded)
    return [billed.alias(f"{side}_billed"), amount.alias(f"{side}_amount")]


def _resolve(deck: CompiledDeck, code: pl.Series, key: pl.Series, dlen: pl.Series, t: pl.Series) -> pl.Series:
    """Version id matched by each call (null: none), from its as-of code; see the module doc."""
    codes = deck.codes
    code = code.cast(_IDX)
    frame = pl.DataFrame(
        {
            "code": code,
            "key": key,
            "dlen": dlen,
            "t": t,
            "hi": codes["hi"].gather(code),
            "plen": codes["plen"].gather(code),
            "latest": codes["latest"].gather(code),
            "from": codes["latest_from"].gather(code),
            "to": codes["latest_to"].gather(code),
        }
    )
    fast = frame.select(
        ok=(pl.col("key") < pl.col("hi"))
        & (pl.col("plen") <= pl.col("dlen"))
        & (pl.col("t") >= pl.col("from"))
        & (pl.col("t") < pl.col("to"))
    ).to_series()
    version = frame.select(pl.when(fast).then(pl.col("latest")).otherwise(None)).to_series()
    pending = (code.is_not_null() & ~fast.fill_null(False)).arg_true()
    if pending.len() == 0:
        return version.alias("version")

    pos, code = pending, code.gather(pending)
    key, dlen, t = key.gather(pending), dlen.gather(pending), t.gather(pending)
    found_pos: list[pl.Series] = []
    found_ver: list[pl.Series] = []
    while pos.len():
        cover = (key < codes["hi"].gather(code)) & (codes["plen"].gather(code) <= dlen)
        at = deck.version_at(code, t)
        hit = cover & at.is_not_null()
        found_pos.append(pos.filter(hit))
        found_ver.append(at.filter(hit))
        up = codes["parent"].gather(code)
        go_on = ~hit & up.is_not_null()
        pos, code = pos.filter(go_on), up.filter(go_on)
        key, dlen, t = key.filter(go_on), dlen.filter(go_on), t.filter(go_on)
    hit_pos = pl.concat(found_pos)
    if hit_pos.len():
        version = version.scatter(hit_pos, pl.concat(found_ver).cast(version.dtype))
    return version.alias("version")
