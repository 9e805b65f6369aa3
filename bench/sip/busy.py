"""INVITE -> 302 round trips while another thread of the server runs Python: ``python -m bench.sip.busy``.

What a reload does to SIP in ``lcr serve``: the router's thread builds the new snapshot, seconds
of Python holding the GIL, and the event loop serving SIP waits for the GIL at every wake-up, up
to the interpreter's switch interval. Workload: ``open_sip_endpoint`` (uvloop) over a 3,000-prefix
world of bench/sip/world.py, a thread building dicts without pause (a stand-in for the build),
and a forked client sending 1,000 INVITEs one at a time, 2 ms apart, timing each round trip.
Run once per switch interval (``--intervals``, ms; 5 is Python's default, ``lcr serve`` sets 1),
and once without the busy thread (``idle``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
import time

from bench.sip.handler import invite
from bench.sip.world import make_world, numbers, routing_inputs
from lcr.routing import build_snapshot
from lcr.sip.server import new_event_loop, open_sip_endpoint


def client(port: int, dialled: list[str], out: int) -> None:
    rtts = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        for i in range(1_000):
            started = time.perf_counter()
            s.sendto(invite(dialled[i % len(dialled)], i), ("127.0.0.1", port))
            s.recv(65535)
            rtts.append(time.perf_counter() - started)
            time.sleep(0.002)
    os.write(out, json.dumps(rtts).encode())


async def measure(snapshot: object, dialled: list[str]) -> list[float]:
    endpoint = await open_sip_endpoint("127.0.0.1", 0, lambda: snapshot)  # type: ignore[arg-type,return-value]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the client: its own process, so it does not compete for our GIL
        try:
            client(endpoint.address[1], dialled, write)
        finally:
            os._exit(0)
    os.close(write)
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        await asyncio.sleep(0.05)
    data = b""
    while chunk := os.read(read, 1 << 20):
        data += chunk
    os.close(read)
    endpoint.close()
    return sorted(json.loads(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--intervals", default="idle,5,1,0.5", help="switch intervals in ms; idle: no busy thread")
    args = parser.parse_args()
    world = make_world(prefixes=3_000)
    snapshot = build_snapshot(routing_inputs(world), int(time.time()))
    dialled = numbers(world, 500)
    busy = threading.Event()

    def build() -> None:
        while True:
            busy.wait()
            d = {}
            for i in range(10_000):
                d[str(i)] = (i, i * 2)

    threading.Thread(target=build, daemon=True).start()
    default = sys.getswitchinterval()
    for interval in args.intervals.split(","):
        if interval == "idle":
            busy.clear()
            sys.setswitchinterval(default)
        else:
            busy.set()
            sys.setswitchinterval(float(interval) / 1000)
        loop = new_event_loop()
        try:
            rtts = loop.run_until_complete(measure(snapshot, dialled))
        finally:
            loop.close()
        n = len(rtts)
        label = "no busy thread" if interval == "idle" else f"busy thread, switch interval {interval} ms"
        print(
            f"{label:<40} p50 {rtts[n // 2] * 1e3:6.2f} ms  p90 {rtts[int(0.9 * n)] * 1e3:6.2f} ms  "
            f"p99 {rtts[int(0.99 * n)] * 1e3:6.2f} ms  (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    busy.clear()
    sys.setswitchinterval(default)


if __name__ == "__main__":
    main()
