"""Benchmark: reading a big canonical rate deck with ``lcr.decks.read_deck``.

Workload: one canonical CSV of 1,000,000 rows (unique 7-digit codes, rates with 4 to 6
decimals, ISO ``YYYY-MM-DD`` effective dates, empty end dates, intervals 60/1|6|60, connect fee
0, change ``Unchanged``), about 54 MB, generated once into a temporary directory from a fixed
seed. Each round is a full ``read_deck``: header detection, Polars ``read_csv`` with every
column as String, validation and conversion of every cell, duplicate check. Target: < 3 s.
``extra_info.cpu_seconds_min`` records the CPU time of the best round (all threads), which a busy
shared machine disturbs less than the wall clock.

Run: ``.venv/bin/pytest bench/bench_deck_read.py`` (add ``--benchmark-only`` to skip nothing else;
``--benchmark-disable`` runs it once as a plain test).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from lcr.decks import ParsedDeck, read_deck

ROWS = 1_000_000
SEED = 20_261_101


def write_canonical_deck(path: Path, rows: int = ROWS, seed: int = SEED) -> None:
    rng = random.Random(seed)
    codes = rng.sample(range(1_000_000, 10_000_000), rows)
    with path.open("w", encoding="utf-8") as f:
        f.write("prefix,destination,rate,effective_date,end_date,first_interval,next_interval,connect_fee,change\n")
        for code in codes:
            places = rng.choice((4, 5, 6))
            rate = f"0.{rng.randrange(10**places):0{places}d}"
            day = rng.randrange(1, 29)
            f.write(f"{code},Destination {code % 997},{rate},2026-11-{day:02d},,60,{rng.choice((1, 6, 60))},0,"
                    "Unchanged\n")


@pytest.fixture(scope="module")
def big_deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "canonical_1m.csv"
    write_canonical_deck(path)
    return path


def test_read_1m_row_canonical_deck(benchmark: Any, big_deck: Path) -> None:
    cpu: list[float] = []

    def read() -> ParsedDeck:
        start = time.process_time()
        parsed = read_deck(big_deck)
        cpu.append(time.process_time() - start)
        return parsed

    parsed = benchmark.pedantic(read, rounds=3, iterations=1, warmup_rounds=1)
    # CPU seconds of all threads: on a shared machine a steadier figure than the wall clock
    benchmark.extra_info["cpu_seconds_min"] = round(min(cpu), 3)
    assert parsed.frame.height == ROWS
    assert parsed.frame["rate"].min() >= 0
