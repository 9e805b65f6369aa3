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

The amounts are computed in the calls' own order, in integer micro-units.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from lcr.rating import reasons
from lcr.rating.deck import KEY_DIGITS, CompiledDeck, compile_deck
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
    "buy_destination": pl.String(),
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


def _normalised(dst: pl.Expr, tech: pl.Expr | None) -> pl.Expr:
    """The digits matched against decks, null when the number is malformed."""
    if tech is not None:
        dst = (
            pl.when((tech != "") & dst.str.starts_with(tech))
            .then(dst.str.slice(tech.str.len_bytes()))
            .otherwise(dst)
        )
    digits = dst.str.extract(rf"^(?:\+|00|011)?([0-9]{{1,{MAX_DIGITS}}})$", 1)
    # The optional lead may backtrack: "00" and "011" alone are a stripped lead and nothing else.
    return pl.when(dst.is_in(["00", "011"])).then(None).otherwise(digits)


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
        pl.when(pl.col("_num").is_null())
        .then(pl.lit(reasons.bad_field("dst")))
        .when(pl.col("_t").is_null())
        .then(pl.lit(reasons.bad_field("start_time")))
        .when(pl.col("_billsec").is_null() | (pl.col("_billsec") < 0))
        .then(pl.lit(reasons.bad_field("billsec")))
    )
    import time; _t=time.perf_counter(); _c=time.process_time()
    prep = (
        cdrs.lazy()
        .select(
            _num=_normalised(pl.col("dst").cast(pl.String), tech),
            _t=pl.col("start_time").cast(pl.Int64),
            _billsec=pl.col("billsec").cast(pl.Int64),
            _sell_owner=customer.cast(sell.owner_enum, strict=False).to_physical(),
            _buy_owner=pl.col("carrier").cast(pl.String).cast(buy.owner_enum, strict=False).to_physical(),
        )
        .with_columns(_bad=bad)
        .with_columns(
            _key=pl.when(pl.col("_bad").is_null())
            .then(pl.col("_num").str.slice(0, KEY_DIGITS).str.pad_end(KEY_DIGITS, "0").cast(pl.Int64))
            .otherwise(-1),
            _dlen=pl.col("_num").str.len_bytes().cast(pl.Int32),
            _sell_owner=pl.when(pl.col("_bad").is_null()).then(pl.col("_sell_owner")),
            _buy_owner=pl.when(pl.col("_bad").is_null()).then(pl.col("_buy_owner")),
        )
        .with_row_index("_r")
        .collect()
    )

    print("prep", time.perf_counter()-_t, "cpu", time.process_time()-_c); _t=time.perf_counter(); _c=time.process_time()
    # One sort by key serves both sides; the matched version ids come back to call order.
    by_key = (
        prep.lazy()
        .select("_r", "_key", "_dlen", "_t", "_sell_owner", "_buy_owner")
        .sort("_key")
        .join_asof(
            sell.flat.lazy().select(
                pl.col("owner").alias("_sell_owner"), pl.col("key").alias("_key"), pl.col("code").alias("_sc")
            ),
            on="_key",
            by="_sell_owner",
            strategy="backward",
            check_sortedness=False,
        )
        .join_asof(
            buy.flat.lazy().select(
                pl.col("owner").alias("_buy_owner"), pl.col("key").alias("_key"), pl.col("code").alias("_bc")
            ),
            on="_key",
            by="_buy_owner",
            strategy="backward",
            check_sortedness=False,
        )
        .collect()
    )
    print("sort+asof", time.perf_counter()-_t, "cpu", time.process_time()-_c); _t=time.perf_counter(); _c=time.process_time()
    key, dlen, t = by_key["_key"], by_key["_dlen"], by_key["_t"]
    versions = pl.DataFrame(
        {
            "_r": by_key["_r"],
            "_sv": _resolve(sell, by_key["_sc"], key, dlen, t),
            "_bv": _resolve(buy, by_key["_bc"], key, dlen, t),
        }
    ).sort("_r")
    print("resolve+unsort", time.perf_counter()-_t, "cpu", time.process_time()-_c); _t=time.perf_counter(); _c=time.process_time()

    out = cdrs.with_columns(
        *_side_columns("sell", sell, versions["_sv"]),
        *_side_columns("buy", buy, versions["_bv"]),
        _billsec=prep["_billsec"],
        _bad=prep["_bad"],
        _has_buy_owner=prep["_buy_owner"].is_not_null(),
    )
    print("side cols", time.perf_counter()-_t, "cpu", time.process_time()-_c); _t=time.perf_counter(); _c=time.process_time()
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
    out = out.with_columns(
        *_cost("sell"), *_cost("buy"), sell_reason=sell_reason, buy_reason=buy_reason
    ).with_columns(margin=pl.col("sell_amount") - pl.col("buy_amount"))
    print("cost", time.perf_counter()-_t, "cpu", time.process_time()-_c); _t=time.perf_counter(); _c=time.process_time()
    drop = [c for c in out.columns if c.startswith("_")]
    keep = [c for c in cdrs.columns if c not in OUTPUT_COLUMNS]
    return out.select(*keep, *(pl.col(c).cast(t) for c, t in OUTPUT_COLUMNS.items())).drop(
        [c for c in drop if c in keep]
    )


def _side_columns(side: str, deck: CompiledDeck, version: pl.Series) -> list[pl.Series]:
    v = deck.versions
    return [
        version.alias(f"_{side}_v"),
        v["prefix"].gather(version).alias(f"{side}_prefix"),
        v["destination"].gather(version).alias(f"{side}_destination"),
        v["rate"].gather(version).alias(f"{side}_rate"),
        v["blocked"].gather(version).alias(f"{side}_blocked"),
        v["first_interval"].gather(version).cast(pl.Int64).alias(f"_{side}_first"),
        v["next_interval"].gather(version).cast(pl.Int64).alias(f"_{side}_next"),
        v["connect_fee"].gather(version).alias(f"_{side}_fee"),
    ]


def _cost(side: str) -> list[pl.Expr]:
    """Billed seconds and amount (micro-units), rounded half-up per call; 0 s costs nothing."""
    billsec = pl.col("_billsec")
    first, nxt = pl.col(f"_{side}_first"), pl.col(f"_{side}_next")
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
        pos, code, key, dlen, t = pos.filter(go_on), up.filter(go_on), key.filter(go_on), dlen.filter(go_on), t.filter(go_on)
    hit_pos = pl.concat(found_pos)
    if hit_pos.len():
        version = version.scatter(hit_pos, pl.concat(found_ver).cast(version.dtype))
    return version.alias("version")
