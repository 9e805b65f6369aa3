"""HTTP benchmark of ``GET /v1/routes`` against ``GET /ping`` of the same app, with wrk.

Workload: the router benchmark world (``bench.world.make_world(1, scale=...)``; at ``--scale 1``
about 2,000,000 carrier rate rows and 1,100,000 customer rate rows, 25 carriers, 10 customers),
compiled once for ``WORLD_NOW`` and served by ``lcr.api.app.create_app`` through a prebuilt-snapshot
service (``bench.http.service``) on 127.0.0.1. Request paths: ``--numbers`` numbers from
``bench.world.random_numbers`` (10 % with ``+``, sent as ``%2B``, 10 % with ``00``), keeping only
those that get a 200 (every number hits routes); ``routes`` without a customer, ``routes+cust``
with a customer drawn at random among the nine that have credit (``customer-01`` .. ``09``: sell
rate, margin filter, margins). Auth: a read-only bearer token (``--auth token``, sent on every
request, ``/ping`` included) or demo mode (``--auth demo``: the loopback check).

Load: ``wrk`` (``apt-get install wrk``) with ``bench/http/wrk.lua`` cycling through a file of
paths, ``--connections`` connections on ``--threads`` threads for ``--seconds`` per run; per server,
``/ping``, ``/v1/routes`` and ``/v1/routes`` with a customer take turns for ``--rounds`` rounds
(after a warm-up of each). With ``--pin`` (default on machines with 2+ CPUs) wrk runs on CPU 0 and
the server on CPU 1 (``sched_setaffinity``): right on an idle machine; on one shared with other
jobs, a pinned server gets its CPU's share only (a one-thread server a third of the CPU at load 5
on 2 CPUs, a server with a Rust I/O thread more), so compare servers with ``--no-pin`` there.
The world is built once; each server runs in a process forked from the builder (copy-on-write), so
the servers serve the same snapshot. ``/bench/ping-plain`` (``add_plain_ping``) is added to the
app in the benchmark only.

Printed per run: requests/s, p50 / p99 latency (wrk), non-2xx answers, server CPU per request
(utime + stime of the server process from ``/proc``, all its threads), the 1-minute load average;
then per server the medians over the rounds and the ratio ``rps(/v1/routes) / rps(/ping)`` (goal
>= 0.8), also from CPU per request (``cpu(/ping) / cpu(/v1/routes)``, less sensitive to other
jobs on the machine).

    python -m bench.http.run                              # full scale, uvicorn, 10 s runs, 2 rounds
    python -m bench.http.run --scale 0.1 --servers uvicorn,granian,hypercorn --seconds 5
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
TOKEN = "bench-read-token"


@dataclass
class Result:
    server: str
    endpoint: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_us: float  # server CPU per request
    load1: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_ready(port: int, pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            raise RuntimeError(f"the server process {pid} exited before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not answer within {timeout:.0f} s")


def build(scale: float, count: int, work: Path, auth_mode: str):
    from bench.http.service import PrebuiltService
    from bench.world import WORLD_NOW, make_world, random_numbers
    from lcr.api.auth import Auth
    from lcr.errors import LcrError
    from lcr.routing import build_snapshot

    t0 = time.perf_counter()
    inputs = make_world(1, scale=scale)
    t1 = time.perf_counter()
    snap = build_snapshot(inputs, WORLD_NOW)
    t2 = time.perf_counter()
    rows = sum(f.height for f in inputs.carrier_rates.values())
    sell_rows = sum(f.height for f in inputs.customer_rates.values())
    print(f"world scale {scale}: {rows:,} carrier rate rows, {sell_rows:,} customer rate rows; "
          f"made in {t1 - t0:.1f} s, snapshot built in {t2 - t1:.1f} s; {snap.stats}", flush=True)

    rng = random.Random(3)
    customers = [c.name for c in inputs.customers if not inputs.credit[c.name].refused]
    plain: list[str] = []
    with_customer: list[str] = []
    routes_plain = routes_cust = 0
    for number in random_numbers(inputs, count):
        q = quote(number, safe="")
        try:
            routes_plain += len(snap.lookup(number).routes)
            plain.append(f"/v1/routes?number={q}")
        except LcrError:
            pass
        customer = rng.choice(customers)
        try:
            routes_cust += len(snap.lookup(number, customer).routes)
            with_customer.append(f"/v1/routes?number={q}&customer={customer}")
        except LcrError:
            pass
    files = {"ping": work / "ping.txt", "ping-plain": work / "ping_plain.txt", "routes": work / "routes.txt",
             "routes+cust": work / "routes_customer.txt"}
    files["ping"].write_text("/ping\n")
    files["ping-plain"].write_text("/bench/ping-plain\n")
    files["routes"].write_text("\n".join(plain) + "\n")
    files["routes+cust"].write_text("\n".join(with_customer) + "\n")
    print(f"paths: {len(plain):,} of {count:,} numbers route without a customer "
          f"({routes_plain / max(1, len(plain)):.1f} routes per answer), {len(with_customer):,} with one "
          f"({routes_cust / max(1, len(with_customer)):.1f} routes per answer)", flush=True)
    check_encoder(snap, [*plain[:2_500], *with_customer[:2_500]])
    service = PrebuiltService(inputs, snap, t2 - t1)
    auth = Auth(read_tokens=(TOKEN,)) if auth_mode == "token" else Auth()
    return service, auth, files


def add_plain_ping(app) -> None:
    """``GET /bench/ping-plain``: ``/ping``'s answer, served the way ``/v1/routes`` is (a Starlette
    endpoint in front of the FastAPI routes, no dependency solving): the trivial endpoint with the
    hot endpoint's plumbing, to show what is route work and what is framework work."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ping_plain(_request: Request) -> Response:
        return Response(b'{"pong":true}', media_type="application/json")

    app.router.routes.insert(0, Route("/bench/ping-plain", ping_plain, methods=["GET"]))


def keep_frozen(every: float = 0.5) -> None:
    """The SIP server's heap policy (``lcr.sip.server.freeze_heap``): the snapshot's millions of
    objects moved out of the cyclic collector's sight, and what survives (memo entries) every
    ``every`` seconds, so no full collection walks them in the middle of a request."""
    import gc
    import threading

    from lcr.sip.server import freeze_heap

    freeze_heap()

    def loop() -> None:
        while True:
            time.sleep(every)
            gc.freeze()

    threading.Thread(target=loop, name="gc-freeze", daemon=True).start()


def check_encoder(snap, paths: list[str]) -> None:
    """The hot path's JSON (``AnswerEncoder``) is byte for byte the reference rendering's."""
    import json
    from urllib.parse import parse_qs

    from lcr.api.render import AnswerEncoder, answer_json

    encoder = AnswerEncoder()
    for path in paths:
        q = {k: v[-1] for k, v in parse_qs(path.partition("?")[2]).items()}
        answer = snap.lookup(q["number"], q.get("customer"))
        fast = encoder.encode(answer)
        if fast != json.dumps(answer_json(answer), separators=(",", ":")).encode():
            raise AssertionError(f"AnswerEncoder differs from answer_json for {path}")
    print(f"AnswerEncoder == json.dumps(answer_json(...)) for {len(paths):,} answers", flush=True)


def start_server(name: str, service, auth, port: int, cpu: int | None,
                 gc_policy: str, app_module: str) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: serve until killed
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        from bench.http.servers import run

        # imported by the parent already: every server runs the same code
        app = importlib.import_module(app_module).create_app(service, auth=auth)
        add_plain_ping(app)
        if gc_policy == "freeze":
            keep_frozen()
        run(name, app, "127.0.0.1", port)
    except BaseException as exc:
        print(f"server {name} failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        os._exit(1)


def stop_server(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


_FIELD = re.compile(r"(\w+)=([\d.]+)")
_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def wrk(port: int, paths: Path, *, seconds: float, connections: int, threads: int, token: str | None,
        cpu: int | None) -> tuple[dict[str, float], int]:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "5s",
           "-s", str(HERE / "wrk.lua"), f"http://127.0.0.1:{port}", "--", str(paths)]
    if token:
        cmd.append(token)
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{out}")
    non2xx = _NON2XX.search(out)
    return {k: float(v) for k, v in _FIELD.findall(line)}, int(non2xx.group(1)) if non2xx else 0


def measure(server: str, endpoint: str, rnd: int, pid: int, port: int, paths: Path, args: argparse.Namespace,
            token: str | None, cpu: int | None) -> Result:
    c0 = cpu_seconds(pid)
    r, non2xx = wrk(port, paths, seconds=args.seconds, connections=args.connections, threads=args.threads,
                    token=token, cpu=cpu)
    used = cpu_seconds(pid) - c0
    n = r["requests"]
    return Result(server, endpoint, rnd, n / (r["duration_us"] / 1e6), r["p50_us"] / 1000, r["p99_us"] / 1000,
                  non2xx, int(r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]),
                  used / n * 1e6 if n else float("nan"), os.getloadavg()[0])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="world scale (1.0: ~2,000,000 carrier rows)")
    p.add_argument("--numbers", type=int, default=100_000, help="numbers drawn for the request paths")
    p.add_argument("--servers", default="uvicorn", help="comma-separated: uvicorn, uvicorn-asyncio, granian, hypercorn")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of one wrk run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per endpoint and server")
    p.add_argument("--rounds", type=int, default=2, help="rounds of the endpoints, taking turns")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--auth", choices=("token", "demo"), default="token")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=len(os.sched_getaffinity(0)) >= 2,
                   help="wrk on CPU 0, the server on CPU 1")
    p.add_argument("--endpoints", default="ping,routes,routes+cust,ping-plain",
                   help="ping-plain: /ping's answer served the way /v1/routes is (see add_plain_ping)")
    p.add_argument("--app", default="lcr.api.app",
                   help="module whose create_app(service, auth=...) is served (to compare another version)")
    p.add_argument("--gc", choices=("freeze", "default"), default="freeze",
                   help="freeze: the snapshot out of the cyclic GC's sight, as the SIP server does")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk not found (Debian: apt-get install wrk)")

    import lcr.api.app  # noqa: F401 - imported before the forks: every server runs the same code

    work = Path(tempfile.mkdtemp(prefix="lcr-bench-http-"))
    service, auth, files = build(args.scale, args.numbers, work, args.auth)
    token = TOKEN if args.auth == "token" else None
    wrk_cpu, server_cpu = (0, 1) if args.pin else (None, None)
    endpoints = args.endpoints.split(",")
    print(f"app {args.app}: wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s, auth {args.auth}, "
          f"gc {args.gc}, "
          f"pinned: {args.pin}, CPUs: {os.cpu_count()}, load average {os.getloadavg()}", flush=True)
    print(f"{'server':16} {'endpoint':12} {'rnd':>3} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'non-2xx':>7} {'sockerr':>7} {'cpu us/req':>10} {'load1':>5}", flush=True)
    results: list[Result] = []
    for name in args.servers.split(","):
        port = free_port()
        pid = start_server(name, service, auth, port, server_cpu, args.gc, args.app)
        try:
            wait_ready(port, pid)
            for ep in endpoints:
                wrk(port, files[ep], seconds=args.warmup, connections=args.connections, threads=args.threads,
                    token=token, cpu=wrk_cpu)
            for rnd in range(1, args.rounds + 1):
                for ep in endpoints:
                    r = measure(name, ep, rnd, pid, port, files[ep], args, token, wrk_cpu)
                    results.append(r)
                    print(f"{name:16} {ep:12} {rnd:>3} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
                          f"{r.non_2xx:>7} {r.socket_errors:>7} {r.cpu_us:>10.1f} {r.load1:>5.2f}", flush=True)
        finally:
            stop_server(pid)

    print("\nmedians over the rounds; ratio = rps(endpoint) / rps(/ping), goal >= 0.8; "
          "cpu ratio = cpu/req(/ping) / cpu/req(endpoint); vs plain = rps(endpoint) / rps(ping-plain)")
    print(f"{'server':16} {'endpoint':12} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu us/req':>10} "
          f"{'ratio':>6} {'cpu ratio':>9} {'vs plain':>8}")
    for name in args.servers.split(","):
        mine = [r for r in results if r.server == name]
        base = [r for r in mine if r.endpoint == "ping"]
        base_rps = statistics.median(r.rps for r in base) if base else float("nan")
        base_cpu = statistics.median(r.cpu_us for r in base) if base else float("nan")
        plain = [r.rps for r in mine if r.endpoint == "ping-plain"]
        plain_rps = statistics.median(plain) if plain else float("nan")
        for ep in endpoints:
            rs = [r for r in mine if r.endpoint == ep]
            if not rs:
                continue
            rps = statistics.median(r.rps for r in rs)
            cpu = statistics.median(r.cpu_us for r in rs)
            print(f"{name:16} {ep:12} {rps:>8.0f} {statistics.median(r.p50_ms for r in rs):>7.2f} "
                  f"{statistics.median(r.p99_ms for r in rs):>7.2f} {cpu:>10.1f} {rps / base_rps:>6.2f} "
                  f"{base_cpu / cpu:>9.2f} {rps / plain_rps:>8.2f}")
    print(f"load average at the end: {os.getloadavg()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
