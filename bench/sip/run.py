"""SIP redirect benchmark: lcr against a tuned Kamailio 5.6, same world, same load, alternately.

Workload (bench/sip/world.py): 50,000 prefixes, 3 gateways, customer globex by source IP
127.0.0.1; every INVITE gets a 302 with 3 Contacts. Load: sipp (bench/sip/uac.xml) sending
INVITE -> 302 -> ACK for 10,000 distinct 12-digit numbers, at a fixed rate for ``--seconds``
(default 10) per step, on a ladder of rates; Kamailio and each lcr variant take turns at each
rate. Traffic is to 127.0.0.1 only.

Kamailio (bench/sip/kamailio.cfg): stateless (sl), mtree longest-prefix match loaded from
db_text, htable source-IP check, ``-x tlsf -X tlsf``, ``maxbuffer`` 4 MB, 2 UDP workers.
lcr variants (``bench.sip.serve`` over a fixed snapshot): ``asyncio:1`` (stock event loop, one
process), ``uvloop:1``, ``uvloop:2`` (two worker processes reading one socket), ``blocking:2``;
and ``serve:N``: ``lcr serve --sip-workers N`` itself over the same world written into a SQLite
store (HTTP in the first process, every process with its own router and reload thread); ``--lcr``
chooses.

For each server and rate it prints: calls, successful / failed, retransmissions, sipp's achieved
rate, p50 / p99 INVITE->302 time (sipp -trace_rtt), and server CPU per call (utime + stime of
the server's whole process tree from /proc/<pid>/stat, before and after). A step passes with
zero failed calls, zero retransmissions and sipp reaching >= 95 % of the target rate (below,
the load generator is the limit, not the server); a failed step is run once more (``--attempts``)
before it counts, as a shared machine has hiccups. Then the summary: the highest passing rate,
CPU per call at the highest rate both passed, and the ratios to Kamailio (goals: rate >= 1.0x,
CPU per call <= 1.5x, p99 < 5 ms at 5,000 cps).

    python -m bench.sip.run                       # full ladder, Kamailio + lcr uvloop:1, uvloop:2
    python -m bench.sip.run --rates 1000,5000 --seconds 5 --lcr uvloop:1,asyncio:1
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.sip.world import kamailio_routes, make_world, numbers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TICK = os.sysconf("SC_CLK_TCK")
DEFAULT_RATES = (1_000, 2_500, 5_000, 7_500, 10_000, 12_500, 15_000, 20_000, 25_000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_run_delay(root: int) -> tuple[float, int, float]:
    """(seconds spent runnable but waiting for a CPU, timeslices run, seconds on a CPU) of ``root``
    and its live descendants' threads, from ``/proc/<pid>/task/<tid>/schedstat``: how long the
    scheduler kept the server from running while it had work (the machine's share of its response
    times), and its CPU time to the nanosecond (``/proc/<pid>/stat``'s utime and stime are
    sampled at each clock tick, 4 ms, which misjudges a process that runs for microseconds at a
    time)."""
    wait = slices = ran = 0
    for pid in tree_pids(root):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
            except OSError:
                continue
            ran += int(fields[0])
            wait += int(fields[1])
            slices += int(fields[2])
    return wait / 1e9, slices, ran / 1e9


def tree_pids(root: int) -> list[int]:
    """``root`` and its live descendants."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent[int(entry)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    found = []
    for pid in parent:
        p = pid
        for _ in range(64):  # bounded walk up the tree
            if p == root:
                found.append(pid)
                break
            p = parent.get(p, 0)
            if p <= 1:
                break
    return found


def tree_cpu_seconds(root: int) -> tuple[float, float]:
    """(utime, stime) of ``root`` and all its descendants (live ones), in seconds."""
    user = system = 0
    for pid in tree_pids(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # gone since
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / TICK, system / TICK


def udp_drops(port: int) -> tuple[int, int, int]:
    """(datagrams dropped by the sockets bound to 127.0.0.1:``port``, UDP ``RcvbufErrors``, UDP
    ``InErrors``) so far, machine-wide for the last two.

    A full receive buffer drops a datagram, and sipp then retransmits: these counts tell whether
    the server's socket or sipp's (or another's) overflowed. A socket's drops also count what its
    filter dropped (lcr's ACKs), which ``InErrors`` counts but ``RcvbufErrors`` does not. Sockets of
    closed processes are gone from /proc/net/udp, so take them before and after a step."""
    local = f"0100007F:{port:04X}"
    server = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local:
            server += int(fields[-1])
    rcvbuf = inerrors = 0
    for line in Path("/proc/net/snmp").read_text().splitlines():
        if line.startswith("Udp: ") and line[5].isdigit():
            values = line.split()
            inerrors, rcvbuf = int(values[3]), int(values[5])
    return server, rcvbuf, inerrors


def wait_for_options(port: int, seconds: float = 60) -> None:
    """Until the server at 127.0.0.1:port answers an OPTIONS (or fail)."""
    deadline = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        me = s.getsockname()[1]
        ping = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};rport;branch=z9hG4bKp\r\n"
            f"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ping\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        while time.monotonic() < deadline:
            s.sendto(ping, ("127.0.0.1", port))
            try:
                if s.recv(4096).startswith(b"SIP/2.0 200"):
                    return
            except TimeoutError:
                continue
    raise RuntimeError(f"no server answering on 127.0.0.1:{port}")


class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    def cpu(self) -> tuple[float, float]:
        return tree_cpu_seconds(self.proc.pid)

    def run_delay(self) -> tuple[float, int, float]:
        return tree_run_delay(self.proc.pid)

    def renice(self, nice: int) -> None:
        """Every thread of the server's process tree at this nice value (an experiment: does a
        server that always gets a CPU first still have a tail?)."""
        for pid in tree_pids(self.proc.pid):
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Kamailio(Server):
    def __init__(self, work: Path, world_rows: list[tuple[str, str]]) -> None:
        self.name = "kamailio"
        self.port = free_port()
        db = work / "kamailio-db"
        db.mkdir(exist_ok=True)
        with open(db / "routes", "w") as f:
            f.write("id(int,auto) tprefix(string) tvalue(string)\n")
            for i, (prefix, value) in enumerate(world_rows, 1):
                f.write(f"{i}:{prefix}:{value.replace(':', chr(92) + ':')}\n")
        (db / "version").write_text("table_name(string) table_version(int)\nroutes:1\n")
        cfg = (HERE / "kamailio.cfg").read_text().replace("@@PORT@@", str(self.port)).replace("@@DBDIR@@", str(db))
        (work / "kamailio.cfg").write_text(cfg)
        run = work / "kamailio-run"
        run.mkdir(exist_ok=True)
        command = ["kamailio", "-DD", "-E", "-f", str(work / "kamailio.cfg"), "-x", "tlsf", "-X", "tlsf",
                   "-m", "256", "-M", "32", "-Y", str(run), "-w", str(work)]  # fmt: skip
        with open(work / "kamailio.log", "wb") as log:
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        wait_for_options(self.port)


class Lcr(Server):
    def __init__(self, work: Path, variant: str, extra: list[str] | None = None) -> None:
        variant, _, tree = variant.partition("@")  # LOOP:WORKERS[@TREE]: lcr as checked out in TREE
        loop, workers = variant.split(":")
        self.name = f"lcr {variant}" + (f"@{Path(tree).name}" if tree else "")
        self.port = free_port()
        command = [sys.executable, "-m", "bench.sip.serve", "--port", str(self.port), "--workers", workers,
                   "--loop", loop, *(extra or [])]  # fmt: skip
        if loop == "serve":
            command = [sys.executable, "-m", "lcr.cli", "serve", "--http", f"127.0.0.1:{free_port()}",
                       "--sip", f"127.0.0.1:{self.port}", "--sip-workers", workers,
                       "--database-url", _store(work)]  # fmt: skip
        log_name = self.name.replace(" ", "-").replace(":", "-").replace("@", "-")
        with open(work / f"{log_name}.log", "wb") as log:  # cwd first on sys.path: TREE's lcr, not ours
            self.proc = subprocess.Popen(command, cwd=tree or ROOT, stdout=log, stderr=subprocess.STDOUT)
        wait_for_options(self.port, 120)


def _store(work: Path) -> str:
    """A SQLite store in ``work`` holding the benchmark world (made once per run)."""
    path = work / "lcr-serve.sqlite"
    url = f"sqlite:///{path}"
    if not path.exists():
        import polars as pl

        from bench.cdr_import import load_world
        from bench.sip.world import routing_inputs
        from lcr.store.db import open_store

        inputs = routing_inputs(make_world())
        billing = (pl.lit(0).alias("connect_fee"), pl.lit(1).alias("first_interval"), pl.lit(1).alias("next_interval"))
        inputs = replace(
            inputs,
            carrier_rates={k: f.with_columns(*billing) for k, f in inputs.carrier_rates.items()},
            customer_rates={k: f.with_columns(*billing) for k, f in inputs.customer_rates.items()},
        )
        engine = open_store(url)
        load_world(engine, inputs)
        engine.dispose()
    return url


@dataclass
class Step:
    server: str
    rate: int
    calls: int
    successful: int
    failed: int
    retransmissions: int
    achieved: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_call: float
    sys_us_per_call: float  # the kernel's part of cpu_us_per_call
    server_drops: int = 0  # datagrams dropped by the server's full receive buffer
    other_drops: int = 0  # by other sockets' (sipp's, mostly)
    load: float = 0.0  # 1-minute load average at the end of the step
    probe: dict | None = None  # bench.sip.probe's answer (kernel-timed response times), when run
    run_delay_ms: float = 0.0  # per second of the step: the server's time runnable but not running
    wait_per_slice_us: float = 0.0  # the same, per timeslice it ran (its average wait for a CPU)
    exact_us_per_call: float = 0.0  # CPU per call from the scheduler's nanosecond count (schedstat)

    def probe_text(self) -> str:
        runq = f"  runq {self.run_delay_ms:.1f} ms/s ({self.wait_per_slice_us:.0f} us/slice)"
        if not self.probe or not self.probe.get("kernel_ms"):
            return runq
        k, u = self.probe["kernel_ms"], self.probe["user_ms"]
        return runq + (
            f"  probe p50/p99/p99.9/max {k['p50']:.2f}/{k['p99']:.2f}/{k['p999']:.2f}/{k['max']:.2f} ms"
            f" (read by the client: p99 {u['p99']:.2f}) lost {self.probe['lost']}"
        )

    @property
    def passed(self) -> bool:
        return (
            self.failed == 0
            and self.retransmissions == 0
            and self.successful == self.calls
            and self.achieved >= 0.95 * self.rate
        )

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return (
            f"{self.server:<14} {self.rate:>6} cps  calls {self.calls:>7}  ok {self.successful:>7}  "
            f"failed {self.failed:>5}  retrans {self.retransmissions:>5}  sipp rate {self.achieved:>8.0f}  "
            f"p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms  "
            f"cpu/call {self.cpu_us_per_call:6.1f} us (sys {self.sys_us_per_call:4.1f}; "
            f"exact {self.exact_us_per_call:5.1f})  "
            f"drops {self.server_drops}/{self.other_drops}  load {self.load:4.2f}  {verdict}" + self.probe_text()
        )


def _elapsed_seconds(text: str) -> float:
    """sipp's ``HH:MM:SS:uuuuuu`` (or ``HH:MM:SS.uuuuuu``)."""
    parts = text.replace(".", ":").split(":")
    h, m, s = int(parts[0]), int(parts[1]), int(parts[2])
    micro = int(parts[3]) if len(parts) > 3 else 0
    return h * 3600 + m * 60 + s + micro / 1e6


def run_step(
    server: Server, rate: int, seconds: float, inf: Path, work: Path, sipp_buffer: int, probe_rate: float = 0.0
) -> Step:
    calls = int(rate * seconds)
    step_dir = Path(tempfile.mkdtemp(prefix=f"{server.name.replace(' ', '-').replace(':', '')}-{rate}-", dir=work))
    command = [
        "sipp", f"127.0.0.1:{server.port}", "-sf", str(HERE / "uac.xml"), "-inf", str(inf),
        "-i", "127.0.0.1", "-p", "0", "-r", str(rate), "-m", str(calls), "-l", str(max(1000, rate)),
        "-nostdin", "-timeout", str(int(seconds * 3 + 30)), "-timeout_error",
        "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "1000",
        "-trace_err", "-error_file", "errors.log", "-max_recv_loops", "10000", "-max_sched_loops", "10000",
        "-buff_size", str(sipp_buffer),
    ]  # fmt: skip
    drops_before = udp_drops(server.port)
    cpu_before = server.cpu()
    delay_before = server.run_delay()
    started = time.monotonic()
    sipp = subprocess.Popen(command, cwd=step_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    probe = None
    if probe_rate > 0 and seconds > 2:  # kernel-timed INVITEs beside sipp's, from its 2nd second to its last
        time.sleep(1.0)
        probe = subprocess.Popen(
            [sys.executable, "-m", "bench.sip.probe", str(server.port), "--numbers", str(inf), "--rate",
             str(probe_rate), "--seconds", str(seconds - 2)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
    try:
        stdout, stderr = sipp.communicate(timeout=seconds * 3 + 60)
    except subprocess.TimeoutExpired:
        sipp.kill()
        stdout, stderr = sipp.communicate()
    done = subprocess.CompletedProcess(command, sipp.returncode, stdout, stderr)
    probed = json.loads(probe.communicate(timeout=60)[0]) if probe is not None else None
    cpu_after = server.cpu()
    delay_after = server.run_delay()
    wall = time.monotonic() - started
    waited, slices = delay_after[0] - delay_before[0], delay_after[1] - delay_before[1]
    user, system = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    drops_after = udp_drops(server.port)
    overflows = drops_after[1] - drops_before[1]
    filtered = (drops_after[2] - drops_before[2]) - overflows  # lcr's socket filter (ACKs)
    server_drops = drops_after[0] - drops_before[0] - filtered
    other_drops = overflows - server_drops
    with open(step_dir / "stat.csv") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    if not rows:
        raise RuntimeError(f"sipp wrote no statistics (exit {done.returncode}): {done.stderr[-500:]}")
    last = rows[-1]
    successful = int(last["SuccessfulCall(C)"])
    failed = int(last["FailedCall(C)"])
    retrans = int(last["Retransmissions(C)"])
    elapsed = _elapsed_seconds(last["ElapsedTime(C)"])
    times: list[float] = []
    for rtt in step_dir.glob("*_rtt.csv"):
        with open(rtt) as f:
            times += [float(r[1]) for r in csv.reader(f, delimiter=";") if len(r) >= 2 and r[1].isdigit()]
    times.sort()

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")

    achieved = calls / elapsed if elapsed else 0.0
    served = successful + (int(probed["answered"]) if probed else 0)  # the probe's calls cost CPU too
    cpu_per_call = (user + system) / max(served, 1) * 1e6
    sys_per_call = system / max(served, 1) * 1e6
    return Step(server.name, rate, calls, successful, failed, retrans, achieved, pct(0.5), pct(0.99), cpu_per_call,
                sys_per_call, server_drops, other_drops, os.getloadavg()[0], probed, waited / wall * 1e3,
                waited / max(slices, 1) * 1e6, (delay_after[2] - delay_before[2]) / max(served, 1) * 1e6)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--lcr",
        default="uvloop:1,uvloop:2",
        help="variants LOOP:WORKERS[@TREE], comma-separated; @TREE serves lcr from another checkout",
    )
    parser.add_argument("--no-kamailio", action="store_true")
    parser.add_argument("--attempts", type=int, default=2, help="tries per step before it counts as failed")
    parser.add_argument(
        "--sipp-buffer",
        type=int,
        default=4 * 1024 * 1024,
        help="sipp's socket buffers in bytes (sipp's own default, 65,535, overflows under load)",
    )
    parser.add_argument("--work", default=None, help="working directory (default: a temporary one)")
    parser.add_argument("--nice", type=int, default=0, help="run every server at this nice value (-20..19)")
    parser.add_argument("--lcr-args", default="", help="more arguments for bench.sip.serve, e.g. --gc-stats")
    parser.add_argument(
        "--probe",
        type=float,
        default=200.0,
        help="INVITEs per second of bench.sip.probe beside sipp (kernel-timed response times); 0: none",
    )
    args = parser.parse_args()
    for tool in ("sipp",) + (() if args.no_kamailio else ("kamailio",)):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install sip-tester kamailio)")
    work = Path(args.work or tempfile.mkdtemp(prefix="lcr-sip-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    world = make_world()
    inf = work / "numbers.csv"
    inf.write_text("SEQUENTIAL\n" + "\n".join(numbers(world, 10_000)) + "\n")
    print(f"work dir {work}; {os.cpu_count()} CPUs; steps of {args.seconds:g} s", flush=True)

    servers: list[Server] = []
    try:
        if not args.no_kamailio:
            servers.append(Kamailio(work, kamailio_routes(world)))
        for variant in args.lcr.split(","):
            servers.append(Lcr(work, variant, args.lcr_args.split()))
        if args.nice:
            for server in servers:
                server.renice(args.nice)
        alive = {s.name: True for s in servers}
        results: dict[str, list[Step]] = {s.name: [] for s in servers}
        for rate in (int(r) for r in args.rates.split(",")):
            for server in servers:
                if not alive[server.name]:
                    continue
                step = run_step(server, rate, args.seconds, inf, work, args.sipp_buffer, args.probe)
                for _ in range(args.attempts - 1):  # a shared machine hiccups: a failed step gets another go
                    if step.passed:
                        break
                    print(step.line() + " (retrying)", flush=True)
                    step = run_step(server, rate, args.seconds, inf, work, args.sipp_buffer, args.probe)
                results[server.name].append(step)
                print(step.line(), flush=True)
                alive[server.name] = step.passed
            if not any(alive.values()):
                break
            time.sleep(1)
    finally:
        for server in servers:
            server.stop()
    summarise(results)


def summarise(results: dict[str, list[Step]]) -> None:
    print("\nsummary")
    best: dict[str, Step | None] = {}
    for name, steps in results.items():
        passed = [s for s in steps if s.passed]
        best[name] = passed[-1] if passed else None
        b = best[name]
        at5k = next((s for s in steps if s.rate == 5_000), None)
        print(
            f"  {name:<14} highest rate passed: {b.rate if b else 0:>6} cps"
            + (f"  cpu/call there {b.cpu_us_per_call:.1f} us" if b else "")
            + (f"  p99 at 5,000 cps {at5k.p99_ms:.2f} ms (goal < 5 ms)" if at5k else "")
            + (f", by the probe {at5k.probe['kernel_ms']['p99']:.2f} ms" if at5k and at5k.probe else "")
        )
    k = results.get("kamailio")
    if not k:
        return
    for name, steps in results.items():
        if name == "kamailio":
            continue
        kb, lb = best.get("kamailio"), best.get(name)
        if kb and lb:
            print(f"  {name}: rate ratio {lb.rate / kb.rate:.2f}x Kamailio (goal >= 1.0x)")
        ratios = [(s.rate, s.cpu_us_per_call / t.cpu_us_per_call) for s in steps for t in k if t.rate == s.rate]
        if ratios:
            shown = ", ".join(f"{r} cps {x:.2f}x" for r, x in ratios)
            print(f"  {name}: CPU per call / Kamailio's at every rate both ran: {shown}")
        common = [s.rate for s in steps if s.passed and any(t.rate == s.rate and t.passed for t in k)]
        if common:
            r = max(common)
            ls = next(s for s in steps if s.rate == r)
            ks = next(s for s in k if s.rate == r)
            print(
                f"  {name}: CPU per call at {r} cps {ls.cpu_us_per_call:.1f} us vs Kamailio "
                f"{ks.cpu_us_per_call:.1f} us = {ls.cpu_us_per_call / ks.cpu_us_per_call:.2f}x (goal <= 1.5x)"
            )


if __name__ == "__main__":
    main()
