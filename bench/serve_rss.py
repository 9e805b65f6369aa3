"""Memory of a real ``lcr serve`` process over the benchmark world (issue 3: RSS <= 1 GB).

Workload: ``bench.world.make_world(1)`` (25 carriers, ~1.95M carrier rows, 10 customers, ~1.18M
sell rows, every version) written into a scratch store (SQLite file, or ``--db postgresql``);
then ``lcr serve`` (HTTP and SIP) in its own process, sampled from ``/proc/PID/status`` every
0.2 s:

1. start: until ``/healthz`` answers (the first snapshot is built);
2. steady: 15 s later (what the process holds while it serves);
3. reload: a one-row deck import for one carrier (another process bumps the store version),
   until ``/healthz`` reports the new version, then 15 s of steady state again;
4. a bigger reload: a delta deck of 2,000 new NPANXX rates (in force at once, spread over the
   NPAs) for one NPANXX carrier (~190,000 codes), timed the same way. (A change to a short code
   such as the carrier's ``1`` recompiles every list under it: ~5.5 s here, off the hot path.)

Printed: VmRSS at each step and VmHWM (peak resident) over the run.
Run: ``.venv/bin/python -m bench.serve_rss [--db sqlite|postgresql] [--sip-workers N]``; with
workers, also each process's RSS and the group's PSS (shared pages counted once).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import polars as pl

from bench.cdr_import import load_world
from bench.http.run import free_port
from bench.scratch import scratch_store
from bench.sip.run import tree_pids
from bench.world import make_world

SETTLE = 15.0


def status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def group(pid: int) -> str:
    """RSS of ``pid`` and of each of its descendants, and their summed PSS (shared pages counted
    once): what ``lcr serve --sip-workers N`` holds in all."""
    rss, pss = [], 0.0
    for p in tree_pids(pid):
        try:
            rss.append(status(p)["VmRSS"])
            with open(f"/proc/{p}/smaps_rollup") as f:
                pss += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024
        except (OSError, StopIteration, KeyError):
            continue
    return f"RSS per process {' + '.join(f'{r:.0f}' for r in rss)} MB, PSS in all {pss:.0f} MB"


def healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return None


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--sip-workers", type=int, default=1, help="lcr serve --sip-workers N")
    args = ap.parse_args()
    t = time.perf_counter()
    world = make_world(1)
    work = Path(tempfile.mkdtemp(prefix="lcr-serve-rss-"))
    from lcr.store.db import open_store

    with scratch_store(args.db, work, f"lcr_bench_serve_{os.getpid()}") as url:
        engine = open_store(url)
        rows = load_world(engine, world)
        carrier = world.carriers[0].name
        nanp = next(name for name in world.carrier_rates if name.startswith("nanp"))
        npanxx = pl.col("effective_to").is_null() & (pl.col("prefix").str.len_chars() == 7)
        big = (world.carrier_rates[nanp].filter(npanxx).gather_every(90).head(2_000)
               .select("prefix", "destination", (pl.col("rate") + 1_000).alias("micro")))
        del world
        print(f"[{args.db}] world in the store: {rows:,} rate rows, {time.perf_counter() - t:.0f} s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        http, sip = free_port(), free_port()
        env = {**os.environ, "LCR_DATABASE_URL": url}
        lcr = str(Path(sys.executable).with_name("lcr"))
        t0 = time.perf_counter()
        proc = subprocess.Popen([lcr, "serve", "--http", f"127.0.0.1:{http}", "--sip", f"127.0.0.1:{sip}",
                                 "--sip-workers", str(args.sip_workers)],
                                env=env, stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("w"))
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set() and proc.poll() is None:
                try:
                    peak[0] = max(peak[0], status(proc.pid)["VmRSS"])
                except (OSError, KeyError):
                    return
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        try:
            first = wait_for(lambda: healthz(http), 600, "lcr serve to answer /healthz")
            print(f"ready after {time.perf_counter() - t0:.1f} s: {status(proc.pid)}", flush=True)
            time.sleep(SETTLE)
            steady = status(proc.pid)
            print(f"steady: VmRSS {steady['VmRSS']:.0f} MB (goal <= 1024); snapshot valid until "
                  f"{first['valid_until']}", flush=True)
            if args.sip_workers > 1:
                print(f"steady, with {args.sip_workers} SIP workers: {group(proc.pid)}", flush=True)
            deck = work / "one.csv"
            deck.write_text("prefix,destination,rate,effective_date\n4420,London,0.0010,2026-11-01\n")
            subprocess.run([lcr, "deck", "import", str(deck), "--carrier", carrier, "--mode", "delta"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            t1 = time.perf_counter()
            wait_for(lambda: (h := healthz(http)) and h["store_version"] != first["store_version"], 600,
                     "the reload")
            print(f"reloaded after {time.perf_counter() - t1:.1f} s: {status(proc.pid)}", flush=True)
            time.sleep(SETTLE)
            after = status(proc.pid)
            second = healthz(http)
            assert second is not None
            deck = work / "big.csv"
            deck.write_text("prefix,destination,rate,effective_date\n" + "".join(
                f"{p},{d},{m // 1_000_000}.{m % 1_000_000:06d},2026-11-01\n" for p, d, m in big.iter_rows()))
            subprocess.run([lcr, "deck", "import", str(deck), "--carrier", nanp, "--mode", "delta"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            t2 = time.perf_counter()
            wait_for(lambda: (h := healthz(http)) and h["store_version"] != second["store_version"], 600,
                     "the second reload")
            print(f"reloaded after a {big.height:,}-code deck of {nanp} in {time.perf_counter() - t2:.1f} s: "
                  f"{status(proc.pid)}", flush=True)
            time.sleep(SETTLE)
            final = status(proc.pid)
            if args.sip_workers > 1:
                print(f"after both reloads, with {args.sip_workers} SIP workers: {group(proc.pid)}", flush=True)
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as r:
                times = [line for line in r.read().decode().splitlines()
                         if line.startswith(("lcr_snapshot_build_seconds", "lcr_snapshot_advance_seconds",
                                                     "lcr_router_reload_seconds"))]
            print("; ".join(times), flush=True)
            print(f"steady after the first reload: VmRSS {after['VmRSS']:.0f} MB; after the second "
                  f"{final['VmRSS']:.0f} MB; peak VmRSS sampled {peak[0]:.0f} MB, VmHWM {final['VmHWM']:.0f} MB; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            for line in (work / "serve.log").read_text().splitlines():
                if "router reloaded" in line or "snapshot" in line:
                    print("lcr serve:", line.strip(), flush=True)
        finally:
            done.set()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            engine.dispose()


if __name__ == "__main__":
    main()
