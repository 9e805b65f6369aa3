"""The app's own CPU time per request, without a server or sockets: ``python -m bench.http.inproc``.

The ASGI app from ``create_app`` is called directly, request after request, on one asyncio loop
(as a server would call it, minus HTTP parsing and the transport), and the process CPU time
(``time.process_time``: every thread, so thread-pool hand-offs count) is divided by the requests.
Less sensitive to other jobs on the machine than ``bench.http.run``; it shows where the app's
time goes, not what a client sees. Workload: ``bench.world.make_world(1, scale=--scale)``, the
request paths of ``bench.http.run`` (numbers that route; with a customer among the nine with
credit), a read-only bearer token on every request.

    python -m bench.http.inproc --scale 0.05
    python -m bench.http.inproc --app some.module   # another module's create_app, same workload
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import time
from typing import Any
from urllib.parse import quote

TOKEN = "bench-read-token"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--numbers", type=int, default=5_000)
    p.add_argument("--repeat", type=int, default=3, help="passes over the paths; the best is printed")
    p.add_argument("--app", default="lcr.api.app", help="module whose create_app(service, auth=...) is measured")
    args = p.parse_args(argv)

    from bench.http.service import PrebuiltService
    from bench.world import WORLD_NOW, make_world, random_numbers
    from lcr.api.auth import Auth
    from lcr.errors import LcrError
    from lcr.routing import build_snapshot

    inputs = make_world(1, scale=args.scale)
    snap = build_snapshot(inputs, WORLD_NOW)
    app = importlib.import_module(args.app).create_app(PrebuiltService(inputs, snap), auth=Auth(read_tokens=(TOKEN,)))
    rng = random.Random(3)
    customers = [c.name for c in inputs.customers if not inputs.credit[c.name].refused]
    plain: list[bytes] = []
    with_customer: list[bytes] = []
    for number in random_numbers(inputs, args.numbers):
        customer = rng.choice(customers)
        for out, cust in ((plain, None), (with_customer, customer)):
            try:
                snap.lookup(number, cust)
            except LcrError:
                continue
            q = f"number={quote(number, safe='')}" + (f"&customer={cust}" if cust else "")
            out.append(q.encode())
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {TOKEN}".encode())]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise AssertionError(f"status {message['status']}")
        sent.append(message)

    async def per_request(path: str, queries: list[bytes]) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            for q in queries:
                scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                         "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": q,
                         "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000),
                         "server": ("127.0.0.1", 8080)}
                await app(scope, receive, send)
            best = min(best, (time.process_time() - t0) / len(queries) * 1e6)
            sent.clear()
        return best

    async def run() -> None:
        ping = await per_request("/ping", [b""] * len(plain))
        routes = await per_request("/v1/routes", plain)
        cust = await per_request("/v1/routes", with_customer)
        print(f"{args.app} scale {args.scale}: CPU per request /ping {ping:.1f} us, /v1/routes {routes:.1f} us "
              f"(ratio {ping / routes:.2f}), with a customer {cust:.1f} us (ratio {ping / cust:.2f})")

    asyncio.run(run())


if __name__ == "__main__":
    main()
