"""Rating benchmark: 10,000,000 CDRs against the 2,000,000-row world, both sides, vectorised.

Workload: ``bench.world.make_world(seed=1)`` (1.95M carrier rate rows over 25 carriers, 1.18M
customer rate rows over 10 customers, all versions: history, closed codes, future changes,
blocked codes; prefixes of 1-9 digits) and ``bench.cdr_world.make_cdrs`` (10,000,000 calls
over 35 days around the world's "now", 11-15 digit numbers with ``+``/``00`` leads, 30 %
unanswered, ~2 % with no or an unknown carrier), written to a Parquet file first.

Figures (wall seconds, best of ``--repeat``):

- compile: ``compile_deck`` of both rate frames (done once per deck change);
- rating: ``rate_compiled`` of the in-memory CDR frame (the rating step alone);
  goal >= 2,000,000 CDRs/s;
- floor: read the input Parquet + write the rated output Parquet with Polars, no rating;
- ratio rating / floor: goal <= 2;
- end to end: read + compile + rate + write.

    python -m bench.bench_rating [--cdrs 10000000] [--scale 1.0] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from pathlib import Path

import polars as pl

from bench.cdr_world import make_cdrs, rate_frames
from bench.world import make_world
from lcr.rating.batch import rate_compiled
from lcr.rating.deck import compile_deck

CPU: dict[str, float] = {}


def best(repeat: int, fn, name: str = ""):  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` runs (and that run's process CPU time, all threads, in CPU)."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if not times or wall < min(times):
            CPU[name] = cpu
        times.append(wall)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdrs", type=int, default=10_000_000)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    world = make_world(1, scale=args.scale)
    sell_rates, buy_rates = rate_frames(world)
    cdrs = make_cdrs(world, args.cdrs)
    print(f"setup: {sell_rates.height:,} sell rows, {buy_rates.height:,} buy rows, "
          f"{cdrs.height:,} CDRs ({time.perf_counter() - t0:.1f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "cdrs.parquet", Path(tmp) / "rated.parquet"
        cdrs.write_parquet(src)
        del cdrs

        def both():  # type: ignore[no-untyped-def]
            return compile_deck(sell_rates), compile_deck(buy_rates)

        t_compile, (sell, buy) = best(args.repeat, both, "compile")
        t_read, frame = best(args.repeat, lambda: pl.read_parquet(src), "read")
        t_rate, rated = best(args.repeat, lambda: rate_compiled(frame, sell, buy), "rate")
        t_write, _ = best(args.repeat, lambda: rated.write_parquet(dst), "write")

        def end_to_end() -> None:
            f = pl.read_parquet(src)
            rate_compiled(f, compile_deck(sell_rates), compile_deck(buy_rates)).write_parquet(dst)

        t_e2e, _ = best(1, end_to_end, "e2e")

    n = args.cdrs
    floor = t_read + t_write
    print(f"load average       : {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end, on {os.cpu_count()} CPUs"
          " (wall figures suffer above that; CPU figures count all threads)")
    print(f"allocator          : _RJEM_MALLOC_CONF={os.environ.get('_RJEM_MALLOC_CONF', '')!r}"
          " (Polars' jemalloc; see bench/README.md, Rating)")
    print(f"compile both decks : {t_compile:6.2f} s  (cpu {CPU['compile']:.2f} s)")
    print(f"rating step        : {t_rate:6.2f} s  {n / t_rate:12,.0f} CDRs/s   (goal >= 2,000,000/s)"
          f"; cpu {CPU['rate']:.2f} s")
    print(f"floor read+write   : {floor:6.2f} s  (read {t_read:.2f} s, write {t_write:.2f} s"
          f"; cpu {CPU['read'] + CPU['write']:.2f} s)")
    cpu_ratio = CPU["rate"] / (CPU["read"] + CPU["write"])
    print(f"ratio rating/floor : {t_rate / floor:6.2f}     (goal <= 2; by cpu time {cpu_ratio:.2f})")
    print(f"end to end         : {t_e2e:6.2f} s  {n / t_e2e:12,.0f} CDRs/s (read+compile+rate+write)")
    print(f"peak RSS           : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    counts = rated.group_by("sell_reason", "buy_reason").len().sort("len", descending=True)
    print("outcomes (sell_reason, buy_reason, calls):")
    for s, b, c in counts.iter_rows():
        print(f"  {s!s:22} {b!s:22} {c:>12,}")


if __name__ == "__main__":
    main()
