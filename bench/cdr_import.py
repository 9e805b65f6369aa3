"""CDR import benchmark: ``lcr cdr import`` of a 1,000,000-call canonical CSV, rated and stored.

Workload: the router benchmark's world (``bench.world.make_world(seed=1)``: 1.95M carrier rate
rows over 25 carriers, 1.18M customer rate rows over 10 customers, all versions) written
straight into a fresh store (SQLite file in a temporary directory; PostgreSQL database
``lcr_bench_cdr_<pid>``, dropped afterwards). The CDR file is ``bench.cdr_world.make_cdrs``
as canonical CSV (ISO times with ``Z``; 30 % unanswered; ~2 % with no or an unknown carrier,
0.5 % with no customer: unrated sides), plus:

- repeats: every 200th line repeats the call_id of a line 100 lines earlier (0.5 %, warned,
  stored once);
- already stored: the first 20,000 calls are imported first, as an earlier file, so the big
  import meets 2 % duplicates in the store;
- malformed: every 10,000th line has ``billsec`` ``"x"`` (quarantined).

Measured, in the same run and database (every import a fresh process, as ``lcr cdr import`` is):

1. ``cold``: the 1,000,000-call file with no compiled decks saved in the store (the table
   ``compiled_decks`` emptied first), so the import loads every rate version, compiles both
   sides and saves them (``lcr.store.deck_cache``): what the first import costs when no deck
   import compiled them (the world is written straight into the store). The 20,000-call
   earlier file is imported before it (also cold);
2. ``deck``: ``lcr deck import`` of a vendor's rate notice (``vendor_change``: a delta deck of
   every 100th code of the first carrier, 5 % cheaper from 60 days on), as the nightly job runs
   it: the import, then the rating decks compiled and saved for the imports after it (the
   command prints the phases: rates, compile, save decks);
3. ``warm``: a second 1,000,000-call file (the same calls under new ids) into the store that
   now holds the first: the first CDR import after that deck change, its decks read back from
   ``compiled_decks`` (every CDR import after a deck import; only a store whose rates came by
   another path imports ``cold``);
   for ``cold`` and ``warm``, the phases (read, order = repeated call_ids dropped and the batch sorted by
   customer and start time, setup, rates = loading the rate versions, compile = ``compile_deck``
   of both sides, save decks = writing them to the store, cached decks = reading them back (this
   machine's memory-mapped copy, ``LCR_DECK_CACHE_DIR``); SQLite: stage = the scratch files
   created, insert = the keys stored, then each chunk as soon as one thread has rated it and
   another written its scratch file by ADBC; PostgreSQL: read includes beginning the keys' COPY,
   which goes on while the lines are checked, rate = the first chunk rated meanwhile, keys = the
   wait for them, insert = the rows COPYed a chunk at a time while the rest are rated and
   encoded; ledger, commit) and the child's peak RSS (its own VmHWM:
   ``os.wait4``'s ru_maxrss would include this parent's, Linux
   keeps it across fork and exec); goal >= 200,000 CDRs/s;
4. ``cli``: ``lcr cdr import FILE3 --json`` (a third file, new ids again; warm): wall time and
   peak RSS of the command itself;
5. ``again``: the first file once more (every call a duplicate, nothing charged);
6. ``floor``: Polars reading the input CSV and writing the rated output (23 columns) as CSV,
   no rating, no database, timed right after each database's cold import (the machine is
   shared: load average is printed beside every figure); the ratio import / floor is reported.

The ledger is checked after the runs (ledger sum = balance for every customer; charges =
sum of stored sell amounts).

    python -m bench.cdr_import [--calls 1000000] [--db sqlite|postgresql|both] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, delete, func, insert, select, text

from bench.cdr_world import make_cdrs
from bench.scratch import scratch_store
from bench.world import WORLD_NOW, make_world
from lcr import POLARS_MALLOC_CONF
from lcr.model import OwnerKind
from lcr.routing.inputs import RoutingInputs

PRESTORED = 20_000  # or 2 % of a smaller file
HEADER = ["call_id", "customer", "carrier", "src", "dst", "start_time", "answer_time", "end_time", "billsec",
          "disposition"]


# --- the world in a store -------------------------------------------------------------------------

def load_world(engine: Engine, world: RoutingInputs) -> int:
    """Carriers, customers and every rate version of the world, written in bulk; returns rows."""
    from lcr.decks.plan import VERSION_SCHEMA
    from lcr.store.db import bump_version, writing
    from lcr.store.parties import add_carrier, add_customer
    from lcr.store.rates import _insert
    from lcr.store.schema import deck_imports

    with writing(engine) as conn:
        ids = {(OwnerKind.CARRIER, c.name): add_carrier(conn, c) for c in world.carriers}
        ids |= {(OwnerKind.CUSTOMER, c.name): add_customer(conn, c) for c in world.customers}
        parts = []
        for kind, decks in ((OwnerKind.CARRIER, world.carrier_rates), (OwnerKind.CUSTOMER, world.customer_rates)):
            for name, frame in sorted(decks.items()):
                import_id = int(conn.execute(insert(deck_imports).values(  # one per owner, as imports leave them
                    owner_kind=kind.value, owner_id=ids[(kind, name)], file_name=f"bench world {name}",
                    content_hash="0" * 64, received=WORLD_NOW, mode="full", profile=None, currency=None,
                    summary="{}", warnings="[]", created_at=int(time.time()),
                )).inserted_primary_key[0])  # type: ignore[index]
                parts.append(frame.select(
                    pl.lit(kind.value).alias("owner_kind"),
                    pl.lit(ids[(kind, name)]).alias("owner_id"),
                    *(pl.col(c).cast(t) for c, t in VERSION_SCHEMA.items()),
                    pl.lit(import_id).alias("import_id"),
                ))
        rows = pl.concat(parts)
        _insert(conn, rows)
        bump_version(conn)
    return rows.height


# --- the CDR files -----------------------------------------------------------------------------------

def canonical(calls: pl.DataFrame, id_prefix: str) -> pl.DataFrame:
    """``make_cdrs`` output as canonical CSV columns, with repeats and malformed lines."""
    i = pl.int_range(0, pl.len(), dtype=pl.Int64)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    answered = pl.col("billsec") > 0
    answer = pl.col("start_time") + 1 + i % 20
    return calls.select(
        call_id=pl.when((i % 200) == 199).then(pl.format(id_prefix + "{}", i - 100))
        .otherwise(pl.format(id_prefix + "{}", i)),
        customer=pl.col("customer"),
        carrier=pl.col("carrier"),
        src=pl.format("4420{}", (i * 7919) % 10_000_000),
        dst=pl.col("dst"),
        start_time=pl.from_epoch("start_time", "s").dt.strftime(iso),
        answer_time=pl.when(answered).then(pl.from_epoch(answer, "s").dt.strftime(iso)),
        end_time=pl.from_epoch(pl.when(answered).then(answer + pl.col("billsec"))
                               .otherwise(pl.col("start_time") + 25), "s").dt.strftime(iso),
        billsec=pl.when((i % 10_000) == 9_999).then(pl.lit("x")).otherwise(pl.col("billsec").cast(pl.String)),
        disposition=pl.when(answered).then(pl.lit("ANSWERED"))
        .otherwise(pl.lit(pl.Series(["NO ANSWER", "BUSY", "FAILED"])).gather(i % 3)),
    )


def vendor_change(world: RoutingInputs, path: Path) -> tuple[str, str]:
    """A vendor's rate notice as a canonical delta deck at ``path``: every 100th code the first
    carrier has in force at ``WORLD_NOW``, 5 % cheaper from 60 days later (after every call of
    the files, so their charges do not move). Returns (carrier, received date)."""
    from lcr.routing.inputs import in_force
    from lcr.store.export import export_frame

    name = sorted(world.carrier_rates)[0]
    live = world.carrier_rates[name].filter(in_force(WORLD_NOW) & ~pl.col("blocked") & (pl.col("rate") >= 20))
    notice = live.sort("prefix").gather_every(100).with_columns(
        pl.col("rate") * 95 // 100, pl.lit(WORLD_NOW + 60 * 86_400).alias("effective_from"),
        pl.lit(None, pl.Int64).alias("effective_to"))
    export_frame(notice).with_columns(pl.lit("Decrease").alias("change")).write_csv(path)
    return name, time.strftime("%Y-%m-%d", time.gmtime(WORLD_NOW))


# --- running an import -------------------------------------------------------------------------------

# Linux keeps ru_maxrss across fork and exec, so os.wait4 would report this (large) parent's peak;
# the child prints its own high-water mark (VmHWM, reset by exec) on stderr as it exits.
_HWM = ("import atexit, runpy, sys\n"
        "def hwm():\n"
        "    kb = [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM')]\n"
        "    print('VmHWM', kb[0], file=sys.stderr)\n"
        "atexit.register(hwm)\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n")


def python_module(module: str, *args: str) -> list[str]:
    """``python -m module args`` that reports its peak RSS on stderr (see ``_HWM``)."""
    return [sys.executable, "-c", _HWM, module, *args]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB) of that one process (its VmHWM), its stdout, and its CPU seconds
    (user + system, all threads: steadier than the wall time on a shared machine). The page cache
    is synced first: a run does not pay for writing out what the step before it wrote."""
    os.sync()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{stdout[-2000:]}\n{stderr[-4000:]}")
    marks = [ln.split()[1] for ln in stderr.splitlines() if ln.startswith("VmHWM ")]
    return wall, (int(marks[-1]) if marks else usage.ru_maxrss) / 1024, stdout, usage.ru_utime + usage.ru_stime


def last_json(stdout: str) -> dict[str, Any]:
    """The JSON document the command printed (anything printed before it is ignored)."""
    start = stdout.find("\n{")
    return json.loads(stdout[start + 1:] if start >= 0 else stdout)


def child(url: str, file: str) -> None:
    """``--child``: one import in this process, its report counts and phase timings as JSON."""
    from lcr.store.cdrs import import_cdr_file
    from lcr.store.db import make_engine

    t0 = time.perf_counter()
    report = import_cdr_file(make_engine(url), file)
    doc = {k: v for k, v in report.to_json().items() if k not in ("problems", "warnings", "charged")}
    doc["timings"] = getattr(report, "timings", {})
    doc["in_process"] = time.perf_counter() - t0
    print("\n" + json.dumps(doc))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def check_ledger(engine: Engine) -> str:
    from lcr.store.schema import cdrs, customers, ledger

    with engine.connect() as conn:
        bal = dict(conn.execute(select(customers.c.id, customers.c.balance)).all())
        led = dict(conn.execute(
            select(ledger.c.customer_id, func.sum(ledger.c.amount)).group_by(ledger.c.customer_id)).all())
        ok = all(int(led.get(i, 0)) == int(b) for i, b in bal.items())
        charged = -sum(int(v) for v in led.values())
        stored = int(conn.execute(select(func.coalesce(func.sum(cdrs.c.sell_amount), 0))).scalar_one())
        n = int(conn.execute(select(func.count()).select_from(cdrs)).scalar_one())
    return f"{n:,} calls stored; ledger = balance: {ok}; charges = stored sell amounts: {charged == stored}"


def bench(db: str, world: RoutingInputs, files: dict[str, Path], work: Path, n: int, rated: pl.DataFrame,
          only_import: bool = False) -> dict[str, object]:
    from lcr.store.db import open_store
    from lcr.store.schema import compiled_decks

    env = dict(os.environ)
    # as lcr sets it for `lcr cdr import`: the child runs this module, which loads Polars first
    env.setdefault("_RJEM_MALLOC_CONF", POLARS_MALLOC_CONF)
    out: dict[str, object] = {"db": db}
    with scratch_store(db, work, f"lcr_bench_cdr_{os.getpid()}") as url:
        env["LCR_DATABASE_URL"] = url
        engine = open_store(url)
        t0 = time.perf_counter()
        rows = load_world(engine, world)
        if db == "postgresql":
            with engine.connect() as c:
                c.execute(text("ANALYZE"))
        print(f"[{db}] world loaded: {rows:,} rate rows in {time.perf_counter() - t0:.1f} s", flush=True)
        me = python_module("bench.cdr_import", "--child", url)
        run([*me, str(files["pre"])], env)
        print(f"[{db}] {min(PRESTORED, n // 50):,} calls stored beforehand (load {load()})", flush=True)
        with engine.begin() as c:
            c.execute(delete(compiled_decks))
        for name, file in (("cold", "main"), ("warm", "warm")):
            if name == "warm" and only_import:
                break
            if name == "warm":
                out["deck"] = deck_change(files, env, db)
            wall, rss, stdout, cpu = run([*me, str(files[file])], env)
            doc = last_json(stdout)
            out[name] = {"wall": wall, "rss": rss, "cpu": cpu, "load": load(), **doc}
            phases = "  ".join(f"{k} {v:.2f}" for k, v in doc["timings"].items())
            print(f"[{db}] {name} import of {n:,} calls: {wall:.2f} s wall ({n / wall:,.0f} CDRs/s), in process "
                  f"{doc['in_process']:.2f} s ({n / doc['in_process']:,.0f}/s); CPU {cpu:.2f} s; "
                  f"peak RSS {rss:,.0f} MB; load {load()}\n"
                  f"       {phases}\n"
                  f"       imported {doc['imported']:,} duplicates {doc['duplicates']:,} rated {doc['rated']:,} "
                  f"unrated {doc['unrated']:,} malformed {doc['malformed']:,}", flush=True)
            if name == "cold":
                t_read, t_write, t_floor = floor(files, rated, work)
                out["floor"] = t_floor
                print(f"[{db}] floor right after: Polars read {t_read:.2f} s + write rated CSV {t_write:.2f} s = "
                      f"{t_floor:.2f} s ({n / t_floor:,.0f} CDRs/s); import / floor = {wall / t_floor:.1f}; "
                      f"load {load()}", flush=True)

        if only_import:
            out["ledger"] = check_ledger(engine)
            print(f"[{db}] {out['ledger']}", flush=True)
            return out
        lcr = python_module("lcr.cli", "cdr", "import", str(files["cli"]), "--json")
        wall, rss, stdout, cpu = run(lcr, env)
        doc = last_json(stdout)
        out["cli"] = {"wall": wall, "rss": rss, "cpu": cpu, "load": load(), "imported": doc["imported"]}
        print(f"[{db}] lcr cdr import --json (new ids, warm, {doc['imported']:,} imported into a store holding two): "
              f"{wall:.2f} s ({n / wall:,.0f} CDRs/s), CPU {cpu:.2f} s; peak RSS {rss:,.0f} MB; load {load()}",
              flush=True)

        wall, rss, stdout, cpu = run([*me, str(files["main"])], env)
        doc = last_json(stdout)
        out["again"] = {"wall": wall, "rss": rss, "cpu": cpu, **doc}
        phases = "  ".join(f"{k} {v:.2f}" for k, v in doc["timings"].items())
        print(f"[{db}] same file again (all duplicates, imported {doc['imported']}): {wall:.2f} s, CPU {cpu:.2f} s; "
              f"peak RSS {rss:,.0f} MB\n       {phases}", flush=True)
        out["ledger"] = check_ledger(engine)
        print(f"[{db}] {out['ledger']}", flush=True)
        engine.dispose()
    return out


def deck_change(files: dict[str, Path], env: dict[str, str], db: str) -> dict[str, object]:
    """``lcr deck import`` of the vendor's rate notice (``vendor_change``), as the nightly job runs
    it: the import, then the rating decks compiled for the imports after it."""
    carrier, received = files["deck_owner"].read_text().split()
    cmd = python_module("lcr.cli", "deck", "import", str(files["deck"]), "--carrier", carrier, "--mode", "delta",
                        "--received", received)
    own = dict(env)
    if own.get("_RJEM_MALLOC_CONF") == POLARS_MALLOC_CONF and os.environ.get("_RJEM_MALLOC_CONF") is None:
        del own["_RJEM_MALLOC_CONF"]  # lcr keeps Polars' own setting for a deck import
    wall, rss, stdout, cpu = run(cmd, own)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("rating decks compiled")), "(no compile line)")
    rows = sum(1 for _ in files["deck"].open()) - 1
    print(f"[{db}] lcr deck import of a {rows:,}-code rate notice for {carrier}: {wall:.2f} s wall, CPU {cpu:.2f} s, "
          f"peak RSS {rss:,.0f} MB; load {load()}\n       {line}", flush=True)
    return {"wall": wall, "rss": rss, "cpu": cpu, "decks": line}


def rated_output(files: dict[str, Path], world: RoutingInputs) -> pl.DataFrame:
    """The rated output the floor writes (the stored columns), rated once outside any timing."""
    from bench.cdr_world import rate_frames
    from lcr.rating.batch import rate_batch
    from lcr.store.cdrs import STORED_COLUMNS

    frame = pl.read_csv(files["main"], infer_schema=False)
    calls = frame.filter(pl.col("billsec") != "x").with_columns(
        pl.col("billsec").cast(pl.Int64),
        *(pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%SZ").dt.epoch("s")
          for c in ("start_time", "answer_time", "end_time")),
    )
    sell, buy = rate_frames(world)
    rated = rate_batch(calls, sell, buy).with_columns(import_id=pl.lit(2, pl.Int64))
    return rated.select(*(c for c in STORED_COLUMNS if c in rated.columns), "import_id")


def floor(files: dict[str, Path], rated: pl.DataFrame, work: Path) -> tuple[float, float, float]:
    """Polars read of the input CSV + write of the rated output (23 columns) as CSV: no rating."""
    t0 = time.perf_counter()
    pl.read_csv(files["main"], infer_schema=False)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    rated.write_csv(work / "rated.csv")
    t_write = time.perf_counter() - t0
    return t_read, t_write, t_read + t_write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="world size (1.0: the 2,000,000-row deck world)")
    ap.add_argument("--only-import", action="store_true", help="the cold import only: no warm, CLI or repeated import")
    ap.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    n = args.calls
    print(f"cdr import benchmark: {n:,} calls, world scale {args.scale}; {os.cpu_count()} CPUs, load {load()}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        world = make_world(1, scale=args.scale)
        calls = make_cdrs(world, n)
        files = {"main": work / "cdrs.csv", "pre": work / "earlier.csv", "warm": work / "cdrs2.csv",
                 "cli": work / "cdrs3.csv"}
        main_csv = canonical(calls, "c-")
        main_csv.write_csv(files["main"])
        main_csv.head(min(PRESTORED, n // 50)).write_csv(files["pre"])
        canonical(calls, "d-").write_csv(files["warm"])
        canonical(calls, "e-").write_csv(files["cli"])
        files["deck"], files["deck_owner"] = work / "notice.csv", work / "notice.owner"
        files["deck_owner"].write_text(" ".join(vendor_change(world, files["deck"])))
        del calls, main_csv
        print(f"world + {n:,}-call files generated in {time.perf_counter() - t0:.1f} s "
              f"({files['main'].stat().st_size / 1e6:.0f} MB)", flush=True)
        rated = rated_output(files, world)
        results = [bench(db, world, files, work, n, rated, args.only_import)
                   for db in (("sqlite", "postgresql") if args.db == "both" else (args.db,))]
        for r in results:
            t_floor = r["floor"]
            nan = {"wall": float("nan"), "rss": float("nan")}
            cold, warm, cli = r["cold"], r.get("warm", nan), r.get("cli", nan)
            print(f"{r['db']:<10} cold {n / cold['wall']:>9,.0f} CDRs/s, warm {n / warm['wall']:>9,.0f} CDRs/s "  # type: ignore[index]
                  f"(goal >= 200,000); cold / floor {cold['wall'] / t_floor:.1f}; "  # type: ignore[index]
                  f"lcr cdr import (warm) {n / cli['wall']:>9,.0f} CDRs/s; "  # type: ignore[index]
                  f"peak RSS {cold['rss']:,.0f} / {warm['rss']:,.0f} / {cli['rss']:,.0f} MB")  # type: ignore[index]

if __name__ == "__main__":
    main()
