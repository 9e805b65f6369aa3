"""Rating a whole batch of CDRs at once with Polars: the same rules as ``reference.rate_call``.

Workload shape: millions of calls against decks of millions of rows. No Python loop runs per
call; the only loops are over prefix-tree levels, for the few calls whose longest code was not
in force at their start (a closed code, a call before a code's newest version).

How one side is matched (see ``lcr.rating.deck`` for the compiled tables):

1. every call's normalised number becomes an integer key (its first 18 digits, padded with
   ``0``; the deck cuts it to its own width) and a digit count, with no normalised string
   built: for nearly every number by one integer parse of the whole number (its value modulo
   ``10**digits`` drops an ``011`` lead), for the rest (signs, zeros, more than 18 digits,
   malformed) by a regex and a slice of those rows only. Each side's search key
   ``owner * stride + key`` is computed there too. The calls are put in key order once for
   both sides (by the key's first 8 digits: a cheaper sort, as cache-friendly);
2. the search key is searched (``search_sorted``) among the deck's flattened breakpoints: the
   owner's longest code whose range holds the key, whatever its dates, with its newest
   version's ``latest_from``, ``latest_to`` and ``pack`` beside it;
3. that code matches when the number is at least as long as the prefix (padding must not
   match) and its newest version is in force at the call's start; otherwise the calls in
   question look for an older version in force (a binary search over ``(code, start rank)``)
   and, failing that, move to the parent code, until matched or out of ancestors;
4. each call gets its version's ``pack`` back in call order (one scatter): the prefix (its
   code's), the destination and the tariff (rate, fee, intervals, blocked) are gathered from
   the deck's tables by the ids in the pack.

The two sides are matched and their columns gathered in parallel (two threads; Polars releases
the GIL). The amounts are computed in the calls' own order, in integer micro-units. Rows come
back in input order with the CDR columns untouched. The per-call expression passes (reading
the numbers, the amounts and reasons) run on Polars' streaming engine: the frame goes through
in morsels on both cores, so intermediates stay in cache and fewer fresh pages are touched
(measured against the in-memory engine on 10M calls: -12 % CPU, -18 % wall).

Where the time goes (10M calls against the 2M-row benchmark decks, CPU seconds with Polars on
one thread, at load 4; 7.0 in all): reading the numbers and the search keys 1.2, sorting and
gathering the calls in key order 0.9, matching 1.3-1.4 per side (the search, the gathers
beside it, older versions, the scatter back), each side's prefix, tariff (and destination)
gathers 0.5-0.6, amounts, reasons and the output frame ~1.0. See ``bench/README.md``, "Rating".
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
    unpack_plen,
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


def _prepare(cdrs: pl.DataFrame, sell: CompiledDeck, buy: CompiledDeck, tech: pl.Expr | None) -> pl.DataFrame:
    """Per call: ``_dlen`` (the digit count of the normalised number, after the tech prefix and
    one ``+`` / ``00`` / ``011`` lead; null when malformed), ``_key`` (its first
    ``KEY_DIGITS`` digits as an integer padded with 0s; -1 for a bad call),
    ``_t``, ``_billsec``, ``_bad`` (the field reason), the search keys ``_qs`` / ``_qb`` of both
    sides (``CompiledDeck.qkey``; -1: a bad call or no owner), ``_has_buy_owner``.

    No normalised string is built: matching needs only the key and the length, and a matched
    prefix is its code's. Each step is its own column, so no string test runs twice."""
    dst = pl.col("dst").cast(pl.String)
    skip = pl.lit(0, pl.Int32)
    if tech is not None:
        stripped = (tech != "") & dst.str.starts_with(tech)
        skip = pl.when(stripped).then(tech.str.len_bytes().cast(pl.Int32)).otherwise(0)
        dst = pl.when(stripped).then(dst.str.slice(skip)).otherwise(dst)
    number = pl.col("_number")
    lead = (
        pl.when(number.str.starts_with("+"))
        .then(1)
        .when(number.str.starts_with("00"))
        .then(2)
        .when(number.str.starts_with("011"))
        .then(3)
        .otherwise(0)
        .cast(pl.Int32)
    )
    digits = pl.col("_len") - pl.col("_lead")
    value = pl.col("_value")  # the whole number as an integer: null unless [+-]digits within an Int64
    calls = (
        cdrs.lazy()
        .select(
            _number=dst,
            _t=pl.col("start_time").cast(pl.Int64),
            _billsec=pl.col("billsec").cast(pl.Int64),
            _so=pl.col("customer").cast(pl.String).cast(sell.owner_enum, strict=False).to_physical(),
            _bo=pl.col("carrier").cast(pl.String).cast(buy.owner_enum, strict=False).to_physical(),
        )
        .with_columns(
            _lead=lead, _len=number.str.len_bytes().cast(pl.Int32), _value=number.cast(pl.Int64, strict=False)
        )
        # The common case, read by one integer parse (no regex, no slice): a positive number of at
        # most KEY_DIGITS digits; its value modulo 10**digits drops an "011" lead. The rest
        # (malformed, zero, negative, longer) is null here and read by ``_digits`` below.
        .with_columns(_dlen=pl.when((value > 0) & (digits >= 1) & (digits <= KEY_DIGITS)).then(digits))
        .with_columns(_key=value % (10**KEY_DIGITS // _pad(pl.col("_dlen"))) * _pad(pl.col("_dlen")))
        .collect(engine="streaming")
    )
    rest = calls.get_column("_dlen").is_null().arg_true()
    if rest.len():
        got = calls.gather(rest).lazy().select(*_digits(number, pl.col("_lead"), pl.col("_len"))).collect()
        calls = calls.with_columns(
            calls.get_column("_dlen").scatter(rest, got.get_column("_dlen")),
            calls.get_column("_key").scatter(rest, got.get_column("_key")),
        )
    dlen = pl.col("_dlen")
    bad = (
        pl.when(dlen.is_null())
        .then(pl.lit(reasons.bad_field("dst")))
        .when(pl.col("_t").is_null())
        .then(pl.lit(reasons.bad_field("start_time")))
        .when(pl.col("_billsec").is_null() | (pl.col("_billsec") < 0))
        .then(pl.lit(reasons.bad_field("billsec")))
    )
    good = pl.col("_bad").is_null()
    key = pl.when(good).then(pl.col("_key")).otherwise(-1)
    return (
        calls.lazy()
        .with_columns(_bad=bad)
        .select(
            "_dlen",
            "_t",
            "_billsec",
            "_bad",
            _key=key,
            _qs=sell.qkey(pl.when(good).then(pl.col("_so")), key),
            _qb=buy.qkey(pl.when(good).then(pl.col("_bo")), key),
            _has_buy_owner=pl.col("_bo").is_not_null(),
        )
        .collect(engine="streaming")
        .rechunk()  # gathers from one chunk are several times faster
    )


def _pad(dlen: pl.Expr) -> pl.Expr:
    """``10**(KEY_DIGITS - dlen)``: what a number's digits are multiplied by to fill a key."""
    return pl.lit(10, pl.Int64).pow(KEY_DIGITS - pl.min_horizontal(dlen, KEY_DIGITS))


def _digits(number: pl.Expr, lead: pl.Expr, length: pl.Expr) -> list[pl.Expr]:
    """``_dlen`` (null: malformed) and ``_key`` of any number, by a regex and a slice: for the
    few numbers the integer parse does not read."""
    dlen = length - lead
    ok = number.str.contains(r"^\+?[0-9]+$") & (dlen >= 1) & (dlen <= MAX_DIGITS)
    head = number.str.slice(lead, KEY_DIGITS).cast(pl.Int64, strict=False)
    return [pl.when(ok).then(dlen).alias("_dlen"), (head * _pad(pl.when(ok).then(dlen))).alias("_key")]


def _present(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).str.len_bytes() > 0  # null when absent


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
    prep = _prepare(cdrs, sell, buy, tech)

    # Sorted by key (its first 8 digits: a cheaper sort, as good for the cache), the binary
    # searches of both sides walk their tables in order.
    bucket = (pl.col("_key") // 10 ** (KEY_DIGITS - 8) + 1).cast(pl.UInt32)  # bad calls (-1): 0
    order = prep.select(bucket).to_series().arg_sort()
    by_key = prep.select("_qs", "_qb", "_dlen", "_t").gather(order)
    dlen, t, key = by_key["_dlen"], by_key["_t"], prep["_key"]
    with ThreadPoolExecutor(2) as pool:  # Polars releases the GIL: one side per core
        sm = pool.submit(_side, "sell", sell, by_key["_qs"], dlen, t, order, key)
        bm = pool.submit(_side, "buy", buy, by_key["_qb"], dlen, t, order, key)
        sell_cols, buy_cols = sm.result(), bm.result()

    out = cdrs.with_columns(
        *sell_cols,
        *buy_cols,
        prep["_billsec"],
        prep["_bad"],
        prep["_has_buy_owner"],
    )
    sell_reason = (
        pl.when(pl.col("_bad").is_not_null())
        .then(pl.col("_bad"))
        .when(~_present("customer").fill_null(False))
        .then(pl.lit(reasons.NO_CUSTOMER))
        .when(pl.col("_sell_pack").is_null())
        .then(pl.lit(reasons.NO_SELL_RATE))
    )
    buy_reason = (
        pl.when(pl.col("_bad").is_not_null())
        .then(pl.col("_bad"))
        .when(~_present("carrier").fill_null(False))
        .then(pl.lit(reasons.NO_CARRIER))
        .when(~pl.col("_has_buy_owner"))
        .then(pl.lit(reasons.UNKNOWN_CARRIER))
        .when(pl.col("_buy_pack").is_null())
        .then(pl.lit(reasons.NO_BUY_RATE))
    )
    keep = [c for c in cdrs.columns if c not in OUTPUT_COLUMNS]
    return (
        out.lazy()
        .with_columns(
            *_cost("sell"),
            *_cost("buy"),
            sell_reason=sell_reason,
            buy_reason=buy_reason,
        )
        .with_columns(
            margin=pl.col("sell_amount") - pl.col("buy_amount"),
        )
        .select(*keep, *(pl.col(c).cast(t) for c, t in OUTPUT_COLUMNS.items()))
        .collect(engine="streaming")
    )


def _side(
    side: str, deck: CompiledDeck, qkey: pl.Series, dlen: pl.Series, t: pl.Series, order: pl.Series, key: pl.Series
) -> list[pl.Series]:
    """One side's columns (run on its own thread): matched, then its tariffs gathered."""
    return _side_columns(side, deck, _match(deck, qkey, dlen, t, order, key))


def _match(
    deck: CompiledDeck, qkey: pl.Series, dlen: pl.Series, t: pl.Series, order: pl.Series, key: pl.Series
) -> pl.Series:
    """``pack`` of the version matched by each call (null: none), in call order; the calls come
    sorted by key (``order`` gives their rows) with their search key, digit count and start.
    ``key`` (in call order) is the calls' ``KEY_DIGITS``-wide key, read for the few pending ones."""
    flat = deck.flat.rechunk()  # a no-op unless the deck was read back in pieces
    at = flat["qkey"].search_sorted(qkey, side="right") - 1  # >= 0: row 0 is a sentinel, qkey -1
    got = flat.select("latest_from", "latest_to", "latest_pack").gather(at)
    coded = pl.col("latest_pack").is_not_null()  # null: no code (or no owner: the sentinel)
    fast = (
        (unpack_plen(pl.col("latest_pack")) <= pl.col("dlen"))
        & (pl.col("t") >= pl.col("latest_from"))
        & (pl.col("t") < pl.col("latest_to"))
    ).fill_null(False)
    checked = got.with_columns(dlen=dlen, t=t).select(
        pack=pl.when(coded & fast).then(pl.col("latest_pack")), pending=coded & ~fast
    )
    pack = checked["pack"]
    pending = checked["pending"].arg_true()
    code = flat["code"].gather(at.gather(pending))
    key = key.gather(order.gather(pending)) // 10 ** (KEY_DIGITS - deck.digits)  # the deck's width
    pos, version = _resolve(deck, pending, code, key, dlen.gather(pending), t.gather(pending))
    if pos.len():
        pack = pack.scatter(pos, deck.versions["pack"].rechunk().gather(version))
    return pl.repeat(None, pack.len(), dtype=pl.Int64, eager=True).scatter(order, pack)


def _side_columns(side: str, deck: CompiledDeck, pack: pl.Series) -> list[pl.Series]:
    """The matched version's prefix (its code's), tariff and (sell side) destination, gathered
    from the deck's tables: a gather of short strings is cheaper than a slice."""
    ids = pack.to_frame().select(code=deck.unpack_code(pl.col(pack.name)), tariff=deck.unpack_tariff(pl.col(pack.name)))
    got = deck.tariffs.gather(ids.get_column("tariff"))
    cols = [
        pack.alias(f"_{side}_pack"),
        deck.codes.get_column("prefix").gather(ids.get_column("code")).alias(f"{side}_prefix"),
        got["rate"].alias(f"{side}_rate"),
        got["connect_fee"].alias(f"_{side}_fee"),
        got["first_interval"].cast(pl.Int64).alias(f"_{side}_first"),
        got["next_interval"].cast(pl.Int64).alias(f"_{side}_next"),
        got["blocked"].alias(f"{side}_blocked"),
    ]
    if side == "sell" and "destination" in deck.tariffs.columns:  # folded in (huge decks)
        cols.append(got["destination"].alias("sell_destination"))
    elif side == "sell":
        dest = pack.to_frame().select(deck.unpack_dest(pl.col(pack.name))).to_series()
        cols.append(deck.destinations.gather(dest).alias("sell_destination"))
    return cols


def _cost(side: str) -> list[pl.Expr]:
    """Billed seconds and amount (micro-units), rounded half-up (away from zero) per call; 0 s
    costs nothing. Null terms (an unmatched side) make both null."""
    billsec = pl.col("_billsec")
    first, nxt = pl.col(f"_{side}_first"), pl.col(f"_{side}_next")
    talk = (billsec > 0).cast(pl.Int64)
    billed = (first + ((billsec - first).clip(lower_bound=0) + nxt - 1) // nxt * nxt) * talk
    product = billed * pl.col(f"{side}_rate")
    # round(product / 60) half away from zero with one floor division: +30 above zero, +29 below
    rounded = (product + 30 - (product < 0).cast(pl.Int64)) // 60
    amount = (pl.col(f"_{side}_fee") + rounded) * talk
    return [billed.alias(f"{side}_billed"), amount.alias(f"{side}_amount")]


def _resolve(
    deck: CompiledDeck, pending: pl.Series, code: pl.Series, key: pl.Series, dlen: pl.Series, t: pl.Series
) -> tuple[pl.Series, pl.Series]:
    """``(positions, versions)`` for the ``pending`` calls (their positions, longest codes, keys,
    digit counts and starts) that match: their longest code was not in force (or is longer than
    the number), so an older version of it, else the parent code's, and so on up the tree."""
    codes = deck.codes.rechunk()
    pos = pending
    found_pos: list[pl.Series] = [pos.clear()]
    found_ver: list[pl.Series] = [pl.Series("version", [], _IDX)]
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
    return pl.concat(found_pos), pl.concat(found_ver).cast(_IDX)
