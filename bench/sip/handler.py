"""Microbenchmark of the pure SIP handler, no sockets: ``python -m bench.sip.handler``.

Workload: the benchmark world (bench/sip/world.py: 50,000 prefixes, 3 carriers, customer
globex by source IP), 10,000 sipp-like INVITEs to distinct numbers and their ACKs, each set
handled five times (the first pass warms the router's and the handler's memos; the best is kept).
Prints CPU microseconds per INVITE (parse + lookup + 302), per ACK, and for the parse and the
router lookup alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.sip.world import make_world, numbers, routing_inputs
from lcr.routing import build_snapshot
from lcr.sip.counters import Counters
from lcr.sip.handler import handle_datagram
from lcr.sip.message import parse_request


def invite(number: str, i: int, method: str = "INVITE", to_tag: str = "") -> bytes:
    return (
        f"{method} sip:{number}@127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK-{i}-1-0\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:40000>;tag={i}SIPpTag001\r\n"
        f"To: <sip:{number}@127.0.0.1:5060>{to_tag}\r\n"
        f"Call-ID: {i}-1234@127.0.0.1\r\nCSeq: 1 {method}\r\nContact: sip:sipp@127.0.0.1:40000\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def per_item(label: str, fn: Callable[[Any], object], items: list[Any]) -> None:
    best = float("inf")
    for _ in range(5):  # the first pass warms the memos; the best of the rest is reported
        started = time.process_time()  # CPU time: a busy machine does not inflate it as it does wall time
        for item in items:
            fn(item)
        best = min(best, time.process_time() - started)
    print(f"{label:<28} {best / len(items) * 1e6:6.2f} us")


def main() -> None:
    world = make_world()
    snapshot = build_snapshot(routing_inputs(world), int(time.time()))
    dialled = numbers(world, 10_000)
    invites = [invite(n, i) for i, n in enumerate(dialled)]
    acks = [invite(n, i, "ACK", ";tag=x") for i, n in enumerate(dialled)]
    counters = Counters()
    source = ("127.0.0.1", 40000)
    per_item("INVITE -> 302 (handler)", lambda d: handle_datagram(d, source, snapshot, counters), invites)
    per_item("ACK (handler)", lambda d: handle_datagram(d, source, snapshot, counters), acks)
    per_item("parse only", parse_request, invites)
    per_item("router lookup only", lambda n: snapshot.lookup(n, "globex"), dialled)
    assert counters.internal_errors == 0 and counters.redirected == 5 * len(invites)


if __name__ == "__main__":
    main()
