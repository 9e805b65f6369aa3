"""Deck import benchmark: 1,000,000-row canonical decks into SQLite and PostgreSQL.

Workload: a generated canonical deck of 1,000,000 rows (400,000 international codes, 600,000
NPANXX 7-digit codes, 4-6 decimal rates) imported as a full deck into an empty store, then a
second full deck of the same codes with 5% of the rates changed (effective later). Each import
runs as ``lcr deck import`` in its own process, so wall time and peak RSS are the command's own
(since 2026-11-24 they include compiling the rating decks, which the command does last).
Goals: PostgreSQL <= 15 s, SQLite <= 20 s per import, peak RSS < 1.5 GB.

    python -m bench.deck_import [--rows 1000000] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.deckgen import write_changed_deck, write_deck
from bench.scratch import scratch_store


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of that one process (os.wait4), and its last output line."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text_out = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text_out}")
    summary = [ln.strip() for ln in text_out.splitlines() if "New:" in ln or ln.startswith("rating decks")]
    return wall, usage.ru_maxrss / 1024, "; ".join(summary) if summary else text_out.strip()[-200:]


def bench(db: str, deck1: Path, deck2: Path, workdir: Path) -> list[tuple[str, float, float]]:
    env = dict(os.environ)
    out = []
    with scratch_store(db, workdir, f"lcr_bench_{os.getpid()}") as url:
        env["LCR_DATABASE_URL"] = url
        lcr = [sys.executable, "-m", "lcr.cli"]
        subprocess.run([*lcr, "carrier", "add", "bench", "--gateway", "192.0.2.1"], env=env, check=True,
                       capture_output=True)
        for label, deck, received in (("first full deck", deck1, "2026-11-01"),
                                      ("5% changed", deck2, "2026-11-10")):
            wall, rss, summary = run([*lcr, "deck", "import", str(deck), "--carrier", "bench", "--received",
                                      received], env)
            out.append((label, wall, rss))
            print(f"{db:<10} {label:<16} {wall:6.2f} s  peak RSS {rss:6.0f} MB  {summary.strip()}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        deck1, deck2 = work / "deck1.csv", work / "deck2.csv"
        t0 = time.perf_counter()
        write_deck(deck1, args.rows)
        changed = write_changed_deck(deck1, deck2)
        print(f"generated {args.rows:,} rows ({changed:,} changed in deck 2) in {time.perf_counter() - t0:.1f} s")
        for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
            bench(db, deck1, deck2, work)


if __name__ == "__main__":
    main()
