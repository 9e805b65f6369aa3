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
    args = parser.parse_args()
    started = time.perf_counter()
    snapshot = build_snapshot(routing_inputs(make_world(prefixes=args.prefixes)), int(time.time()))
    print(f"snapshot built in {time.perf_counter() - started:.1f} s: {snapshot.stats}", flush=True)

    def ready(address: tuple[str, int]) -> None:
        print(f"READY {address[0]} {address[1]}", flush=True)

    if args.loop == "blocking":
        serve_blocking(args.host, args.port, snapshot, args.workers, ready)
    else:
        serve_sip(
            args.host, args.port, lambda: snapshot, workers=args.workers, ready=ready, uvloop=args.loop == "uvloop"
        )


def serve_blocking(host: str, port: int, snapshot: RouteSnapshot, workers: int, ready: Callable) -> None:
    """An experiment, not a product: no event loop, a blocking recvfrom/sendto loop per process
    (SO_REUSEPORT), to measure what the event loop costs. Stopped by SIGTERM (default action)."""
    holder = bind_udp(host, port, reuse_port=True)
    port = holder.getsockname()[1]
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            holder.close()
            sock = bind_udp(host, port, reuse_port=True)
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
    holder.close()
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
