"""Serve the SIP benchmark world with lcr: ``python -m bench.sip.serve --port P [--workers N] [--loop L]``.

Prints ``READY <host> <port>`` once bound; serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable

from bench.sip.world import PREFIXES, make_world, routing_inputs
from lcr.routing import build_snapshot
from lcr.sip.counters import Counters
from lcr.sip.handler import handle_datagram
from lcr.sip.server import bind_udp, freeze_heap, serve_sip
from lcr.sip.snapshot import RouteSnapshot


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", choices=("uvloop", "asyncio", "blocking"), default="uvloop")
    parser.add_argument("--prefixes", type=int, default=PREFIXES, help="a smaller world starts faster (callgrind)")
    parser.add_argument(
        "--stall-stats",
        action="store_true",
        help="print at exit (1 process) the collector's pauses and the datagrams whose handling took > 0.5 ms, "
        "in wall time and in this thread's CPU time (CPU ~ wall: the work; CPU << wall: preempted)",
    )
    args = parser.parse_args()
    if args.stall_stats:
        watch_stalls()
    started = time.perf_counter()
    snapshot = build_snapshot(routing_inputs(make_world(prefixes=args.prefixes)), int(time.time()))
    print(f"snapshot built in {time.perf_counter() - started:.1f} s: {snapshot.stats}", flush=True)

    def ready(address: tuple[str, int]) -> None:
        for reset in RESET:
            reset()
        print(f"READY {address[0]} {address[1]}", flush=True)

    if args.loop == "blocking":
        serve_blocking(args.host, args.port, snapshot, args.workers, ready)
    else:
        serve_sip(
            args.host, args.port, lambda: snapshot, workers=args.workers, ready=ready, uvloop=args.loop == "uvloop"
        )


def watch_stalls() -> None:
    """Time every collection and every ``datagram_received``; print a summary when the process exits
    normally. Costs two clock reads and a CPU-clock read per datagram."""
    import atexit
    import gc

    from lcr.sip.server import SipProtocol

    started: list[float] = [0.0]
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    slow: list[tuple[float, float]] = []  # (wall ms, CPU ms) of each handling over 0.5 ms
    counts = [0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1e3)

    handle = SipProtocol.datagram_received
    wall, cpu = time.perf_counter, time.thread_time

    def timed(self: SipProtocol, data: bytes, addr: tuple[str, int]) -> None:
        t0, c0 = wall(), cpu()
        handle(self, data, addr)
        dt = wall() - t0
        counts[0] += 1
        if dt > 0.0005:
            slow.append((dt * 1e3, (cpu() - c0) * 1e3))

    def report() -> None:
        print(f"datagrams handled {counts[0]}; over 0.5 ms: {len(slow)}", flush=True)
        for low, high in ((0.5, 1), (1, 2), (2, 5), (5, 10), (10, 1e9)):
            band = [(w, c) for w, c in slow if low <= w < high]
            if band:
                share = sum(c for _, c in band) / sum(w for w, _ in band)
                print(f"  {low:g}-{high:g} ms: {len(band)}, CPU/wall {share:.2f}", flush=True)
        for generation, ms in pauses.items():
            if ms:
                print(f"GC gen{generation}: {len(ms)} collections, {sum(ms):.1f} ms in all, max {max(ms):.2f} ms, "
                      f">1 ms: {sum(1 for x in ms if x > 1)}", flush=True)  # fmt: skip

    def reset() -> None:  # at READY: the snapshot's build is not serving
        for ms in pauses.values():
            ms.clear()

    SipProtocol.datagram_received = timed  # type: ignore[method-assign]
    gc.callbacks.append(callback)
    atexit.register(report)
    RESET.append(reset)


RESET: list[Callable[[], None]] = []


def serve_blocking(host: str, port: int, snapshot: RouteSnapshot, workers: int, ready: Callable) -> None:
    """An experiment, not a product: no event loop, N processes in a blocking recvfrom/sendto loop
    on one shared socket (Kamailio's way: the kernel wakes one blocked reader per datagram), to
    measure what the event loop costs. Stopped by SIGTERM (default action)."""
    sock = bind_udp(host, port)
    port = sock.getsockname()[1]
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            sock.setblocking(True)
            freeze_heap()
            counters = Counters()
            recv, send = sock.recvfrom, sock.sendto
            while True:
                data, addr = recv(65535)
                answer = handle_datagram(data, addr, snapshot, counters)
                if answer is not None:
                    send(answer, addr)
        children.append(pid)
    time.sleep(0.5)
    sock.close()
    ready((host, port))

    def stop(*_: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
