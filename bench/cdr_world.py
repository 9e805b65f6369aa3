"""CDRs for the rating benchmark, drawn from the ``bench.world`` decks (deterministic).

``rate_frames(world)`` gives the two frames ``rate_batch`` takes (every customer's sell deck,
every carrier's buy deck, with an ``owner`` column). ``make_cdrs(world, count, seed)`` draws
``count`` calls, vectorised (hash-based randomness, no Python loop per call):

- ``dst``: a uniformly drawn carrier deck row's prefix, padded with random digits to 11-13
  digits; 10 % with a leading ``+``, 10 % with ``00``;
- ``carrier``: the carrier of that row (93 %), another carrier (5 %), none (1 %), or a peer
  that is no carrier (1 %); ``customer``: one of the 10 customers uniformly, none for 0.5 %;
- ``start_time``: uniform over the 30 days before ``WORLD_NOW`` and the 5 days after it (so
  older versions, closed codes and future rate changes are all hit);
- ``billsec``: 0 for 30 % of the calls, else 1-1800 s (short calls more frequent).
"""

from __future__ import annotations

import polars as pl

from bench.world import DAY, WORLD_NOW
from lcr.routing.inputs import RoutingInputs


def _owned(decks: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(
        [f.with_columns(owner=pl.lit(name)) for name, f in sorted(decks.items())], how="vertical_relaxed"
    ).with_columns(pl.col("first_interval", "next_interval").cast(pl.Int32))


def rate_frames(world: RoutingInputs) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(sell_rates, buy_rates)`` with an ``owner`` column."""
    return _owned(dict(world.customer_rates)), _owned(dict(world.carrier_rates))


def make_cdrs(world: RoutingInputs, count: int, seed: int = 3) -> pl.DataFrame:
    _, buy = rate_frames(world)
    carriers = sorted(world.carrier_rates)
    customers = sorted(world.customer_rates)
    i = pl.int_range(0, count, dtype=pl.Int64)

    def rnd(k: int, n: int) -> pl.Expr:  # uniform in [0, n)
        return (i.hash(seed * 1000 + k) % n).cast(pl.Int64)

    rows = buy.select("prefix", "owner")
    pick = pl.DataFrame().select(idx=rnd(1, rows.height).cast(pl.UInt32)).to_series()
    prefix = rows["prefix"].gather(pick)
    owner = rows["owner"].gather(pick)
    base = pl.DataFrame({"prefix": prefix, "owner": owner}).with_columns(
        i=pl.int_range(0, count, dtype=pl.Int64)
    )
    i = pl.col("i")
    length = pl.when(pl.col("prefix").str.starts_with("1")).then(11).otherwise(11 + rnd(2, 3))
    pad = (length - pl.col("prefix").str.len_bytes().cast(pl.Int64)).clip(lower_bound=0)
    digits = (i.hash(seed * 1000 + 3) % 10**13).cast(pl.String).str.pad_start(13, "0")
    number = pl.col("prefix") + digits.str.slice(0, pad)
    lead = rnd(4, 10)
    who = rnd(5, 100)
    other = pl.lit(pl.Series(carriers)).gather(rnd(6, len(carriers)))
    cdrs = base.select(
        call_id=pl.format("c-{}", i),
        customer=pl.when(rnd(7, 200) == 0)
        .then(None)
        .otherwise(pl.lit(pl.Series(customers)).gather(rnd(8, len(customers)))),
        carrier=pl.when(who < 93)
        .then(pl.col("owner"))
        .when(who < 98)
        .then(other)
        .when(who < 99)
        .then(None)
        .otherwise(pl.lit("ghost-peer")),
        dst=pl.when(lead == 0).then("+" + number).when(lead == 1).then("00" + number).otherwise(number),
        start_time=WORLD_NOW - 30 * DAY + rnd(9, 35 * DAY),
        billsec=pl.when(rnd(10, 10) < 3).then(0).otherwise(1 + rnd(11, 60) * rnd(12, 30) + rnd(13, 60)),
    )
    return cdrs
