"""Router benchmarks: snapshot build time, lookup time per query, memory.

Workload (``bench.world.make_world(1)``): 20 international carriers x ~44,000 of 50,000 nested
international codes + 5 NANP carriers x ~190,000 of 200,000 NPANXX codes (1,947,000 carrier rate
rows, 1,814,000 in force), 10 customers with sell decks (1,178,000 rows), built for
``WORLD_NOW``; lookups over 1,000,000 numbers from ``bench.world.random_numbers`` (a uniformly
drawn carrier code padded to 11-13 digits; 80 % NANP; 10 % with ``+``, 10 % with ``00``).

Run with ``.venv/bin/pytest bench/bench_router.py -p no:cacheprovider`` (pytest-benchmark
tables), or ``.venv/bin/python -m bench.bench_router`` for a plain summary. Goals on the 2-core
reference machine: build <= 20 s, lookup median <= 3 us, RSS holding the snapshot <= 1 GB.
"""

from __future__ import annotations

import gc
import os
import resource
import time
from collections.abc import Callable
from statistics import median

import pytest

from bench.world import WORLD_NOW, make_world, random_numbers
from lcr.errors import LcrError
from lcr.routing import Snapshot, build_snapshot
from lcr.routing.advance import advance_snapshot

N_LOOKUPS = 1_000_000
BATCH = 1_000

_cache: dict[str, object] = {}


def rss_mb() -> float:
    """The resident set size of this process now, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def world():
    if "world" not in _cache:
        _cache["world"] = make_world(1)
    return _cache["world"]


def snapshot() -> Snapshot:
    if "snapshot" not in _cache:
        _cache["snapshot"] = build_snapshot(world(), WORLD_NOW)  # type: ignore[arg-type]
    return _cache["snapshot"]  # type: ignore[return-value]


def numbers() -> list[str]:
    if "numbers" not in _cache:
        _cache["numbers"] = random_numbers(world(), N_LOOKUPS)  # type: ignore[arg-type]
    return _cache["numbers"]  # type: ignore[return-value]


def run_batch(lookup: Callable, batch: list[str], customer: str | None) -> int:
    """Look every number of ``batch`` up; the number of refusals (exceptions) is returned."""
    refused = 0
    for n in batch:
        try:
            lookup(n, customer)
        except LcrError:
            refused += 1
    return refused


def per_query(snap: Snapshot, customer: str | None, nums: list[str]) -> dict[str, float]:
    """Microseconds per query over ``nums``: the whole loop divided by its length, and the
    median and 99th percentile of single timed calls (the timer's own cost subtracted); then
    the median of ``lookup(...).routes``, the lookup plus the copy of the kept routes that a
    consumer reading them makes (``RouteAnswer.routes``)."""
    lookup = snap.lookup
    gc.collect()
    t0 = time.perf_counter()
    refused = run_batch(lookup, nums, customer)
    loop = (time.perf_counter() - t0) / len(nums) * 1e6
    clock = time.perf_counter_ns
    overhead = median(-clock() + clock() for _ in range(100_000))
    single = []
    for n in nums:
        t = clock()
        try:  # noqa: SIM105 - contextlib.suppress would be timed too
            lookup(n, customer)
        except LcrError:
            pass
        single.append(clock() - t - overhead)
    single.sort()
    read = []
    for n in nums:
        t = clock()
        try:  # noqa: SIM105
            lookup(n, customer).routes  # noqa: B018 - the property is what is timed
        except LcrError:
            pass
        read.append(clock() - t - overhead)
    read.sort()
    return {
        "loop_mean_us": loop,
        "call_median_us": single[len(single) // 2] / 1000,
        "call_p99_us": single[int(len(single) * 0.99)] / 1000,
        "with_routes_median_us": read[len(read) // 2] / 1000,
        "refused_share": refused / len(nums),
    }


# -- pytest-benchmark --------------------------------------------------------------------------


def test_build_snapshot(benchmark):
    """Build the snapshot of the 2,000,000-row world (25 carriers, 10 customers) at WORLD_NOW, once."""
    inputs = world()
    gc.collect()
    before = rss_mb()
    snap = benchmark.pedantic(build_snapshot, args=(inputs, WORLD_NOW), rounds=1, iterations=1)
    _cache["snapshot"] = snap
    gc.collect()
    benchmark.extra_info.update(snap.stats)
    benchmark.extra_info["rss_mb_world"] = before
    benchmark.extra_info["rss_mb_world_and_snapshot"] = rss_mb()
    benchmark.extra_info["peak_rss_mb"] = peak_rss_mb()
    assert snap.stats["union_prefixes"] > 200_000


def test_advance_snapshot(benchmark):
    """Patch the snapshot to its next change instant (what a timed switch does), once."""
    snap = snapshot()
    nxt = benchmark.pedantic(advance_snapshot, args=(snap, world(), snap.valid_until), rounds=1, iterations=1)
    assert nxt.at == snap.valid_until


@pytest.mark.parametrize(
    "customer",
    [
        None,  # no customer: every covering carrier
        "customer-01",  # NPANXX sell deck, min margin 0: ~10 routes kept
        "customer-05",  # per-NPA sell deck, min margin 10 %, tech prefix 8805
    ],
)
def test_lookup(benchmark, customer):
    """1,000,000 lookups of random numbers on the full snapshot, in 1,000 rounds of 1,000
    distinct numbers; pytest-benchmark's figures are per round (divide by 1,000)."""
    snap, nums = snapshot(), numbers()
    batches = iter(range(0, len(nums), BATCH))

    def setup():
        i = next(batches)
        return (snap.lookup, nums[i : i + BATCH], customer), {}

    benchmark.pedantic(run_batch, setup=setup, rounds=len(nums) // BATCH, iterations=1)
    benchmark.extra_info.update(per_query(snap, customer, nums))


def test_memory(benchmark):
    """RSS of this process holding the snapshot (the world's frames dropped), and the peak."""
    snap = snapshot()
    _cache.pop("world", None)
    _cache.pop("numbers", None)
    gc.collect()
    time.sleep(12)  # let the allocator hand freed build memory back to the OS
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["rss_mb_snapshot_only"] = rss_mb()
    benchmark.extra_info["peak_rss_mb"] = peak_rss_mb()
    assert snap.lookup("442079460000").routes


# -- plain summary -----------------------------------------------------------------------------


def main() -> None:
    t = time.perf_counter()
    inputs = world()
    print(f"world: {time.perf_counter() - t:.1f} s, rss {rss_mb():.0f} MB; load average {os.getloadavg()}")
    gc.collect()
    t = time.perf_counter()
    snap = build_snapshot(inputs, WORLD_NOW)
    build = time.perf_counter() - t
    _cache["snapshot"] = snap
    print(f"build: {build:.1f} s (goal <= 20 s)  {snap.stats}  rss {rss_mb():.0f} MB, peak {peak_rss_mb():.0f} MB")
    t = time.perf_counter()
    nxt = advance_snapshot(snap, inputs, snap.valid_until or WORLD_NOW)
    print(f"advance to the next change ({nxt.at}): {time.perf_counter() - t:.3f} s (a timed switch)", flush=True)
    del nxt
    nums = numbers()
    for customer in (None, "customer-01", "customer-05"):
        figures = per_query(snap, customer, nums)
        print(f"lookup {customer or 'no customer'}: "
              + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)
    # A server would freeze the GC after a build: full collections then skip the snapshot's
    # millions of objects (they are acyclic and freed by reference counting anyway).
    gc.collect()
    gc.freeze()
    for customer in (None, "customer-01", "customer-05"):
        figures = per_query(snap, customer, nums)
        print(f"after gc.freeze(): lookup {customer or 'no customer'}: "
              + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)
    gc.unfreeze()
    del inputs
    _cache.clear()
    _cache["snapshot"] = snap
    gc.collect()
    time.sleep(12)
    print(f"rss holding the snapshot only: {rss_mb():.0f} MB (goal <= 1024), peak {peak_rss_mb():.0f} MB; "
          f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
