"""A reader's frame goes straight into ``rate_batch``: the sample calls, rated on a small deck."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lcr.cdrs import read_cdrs
from lcr.rating import OWNED_RATE_SCHEMA, rate_batch

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cdrs"
T0 = 1_790_000_000  # before every sample call

SELL = pl.DataFrame(
    [
        ("globex", "49", "Germany", 20_000, T0, None, False, 1, 1, 0),
        ("globex", "4915", "Germany mobile", 90_000, T0, None, False, 60, 60, 0),
        ("globex", "1", "USA", 5_000, T0, None, False, 6, 6, 0),
    ],
    schema=OWNED_RATE_SCHEMA,
    orient="row",
)
BUY = pl.DataFrame(
    [
        ("acme", "4915", "DE mob", 80_000, T0, None, False, 1, 1, 0),
        ("delta", "1212", "NY", 2_000, T0, None, False, 6, 6, 0),
    ],
    schema=OWNED_RATE_SCHEMA,
    orient="row",
)


def test_canonical_sample_rated() -> None:
    rated = rate_batch(read_cdrs(DATA / "canonical_cdrs.csv").frame, SELL, BUY)
    by_id = {r["call_id"]: r for r in rated.to_dicts()}
    assert (by_id["c-0001"]["sell_amount"], by_id["c-0001"]["buy_amount"], by_id["c-0001"]["margin"]) == (
        90_000, 80_000, 10_000,
    )
    assert by_id["c-0002"]["sell_reason"] == "no sell rate"  # France: not in this deck
    assert by_id["c-0002"]["buy_reason"] == "unknown carrier"  # borealis has no deck here
    assert by_id["c-0003"]["sell_reason"] == "no sell rate"
    assert (by_id["c-0005"]["buy_prefix"], by_id["c-0005"]["buy_billed"], by_id["c-0005"]["buy_amount"]) == (
        "1212", 18, 600,
    )
    assert by_id["c-0006"]["buy_reason"] == "no carrier"
    assert rated.height == 7  # nothing dropped


def test_asterisk_sample_rated() -> None:
    rated = rate_batch(read_cdrs(DATA / "asterisk_master.csv").frame, SELL, BUY)
    delta = rated.filter(pl.col("carrier") == "delta").row(0, named=True)
    assert (delta["sell_prefix"], delta["sell_billed"], delta["buy_prefix"]) == ("1", 18, "1212")
