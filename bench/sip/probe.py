"""INVITE -> 302 response times to the microsecond, measured by the kernel, beside sipp's load.

``python -m bench.sip.probe PORT --numbers numbers.csv --rate 200 --seconds 10`` sends INVITEs at a
steady ``--rate`` from its own socket on 127.0.0.1 (the benchmark customer's source IP) to the
server on 127.0.0.1:PORT, to the numbers of sipp's ``-inf`` file, and prints one JSON line:
percentiles of the response time and the count of answers that never came (``lost``).

Why: sipp reports response times in whole milliseconds of its own clock, which it reads once per
scheduling loop, so under load they come in ~4 ms steps and include sipp's own delays in reading
the answer. Here the time of the answer is the kernel's receive timestamp (``SO_TIMESTAMPNS``:
when the server's ``sendto`` put the 302 into this socket, whenever this process gets to read it),
and the time of the request is taken just before its ``sendto`` (on loopback the datagram is in the
server's socket when ``sendto`` returns). So ``kernel`` is the server's queueing + processing time,
whatever the load generator's scheduling; ``user`` (the same answer, timed when this process read
it) shows how much a busy client's own reading adds, as sipp's figures include.

The probe's INVITEs are a small share of the load (200 /s beside sipp's 5,000) and are answered
like sipp's: the same numbers, the same server socket, the same queue. No ACK is sent (lcr drops
ACKs in the kernel; Kamailio's stateless reply needs none).
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import struct
import time
from pathlib import Path

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def invite(number: str, port: int, me: int, n: int) -> bytes:
    return (
        f"INVITE sip:{number}@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{me};rport;branch=z9hG4bK-probe-{n}\r\n"
        f"From: probe <sip:probe@127.0.0.1:{me}>;tag=probe{n}\r\n"
        f"To: <sip:{number}@127.0.0.1:{port}>\r\n"
        f"Call-ID: probe-{n}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: sip:probe@127.0.0.1:{me}\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}

    def at(p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 3)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p999": at(0.999), "max": round(values[-1], 3)}


def probe(port: int, numbers: list[str], rate: float, seconds: float) -> dict[str, object]:
    """Send ``rate * seconds`` INVITEs, one every ``1 / rate`` s; wait 1 s for the last answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    me = sock.getsockname()[1]
    target = ("127.0.0.1", port)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    total = int(rate * seconds)
    sent: dict[int, int] = {}  # call number -> time_ns() just before sendto
    kernel: list[float] = []  # ms
    user: list[float] = []
    statuses: dict[str, int] = {}
    interval = 1.0 / rate
    start = time.monotonic()
    n = 0
    end = start + seconds + 1.0

    def drain() -> None:
        while True:
            try:
                data, ancdata, _flags, _addr = sock.recvmsg(4096, 64)
            except BlockingIOError:
                return
            now = time.time_ns()
            stamp = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", payload[:16])
                    stamp = sec * 1_000_000_000 + nsec
            head = data[:64].decode("latin-1")
            statuses[head[8:11]] = statuses.get(head[8:11], 0) + 1
            mark = data.find(b"Call-ID: probe-")
            if mark < 0:
                continue
            call = int(data[mark + 15 : data.index(b"\r\n", mark)])
            t0 = sent.pop(call, None)
            if t0 is None or stamp is None:
                continue
            kernel.append((stamp - t0) / 1e6)
            user.append((now - t0) / 1e6)

    while True:
        now = time.monotonic()
        if n < total and now >= start + n * interval:
            message = invite(numbers[n % len(numbers)], port, me, n)
            sent[n] = time.time_ns()
            sock.sendto(message, target)
            n += 1
            continue
        if n >= total and (not sent or now >= end):
            break
        wake = start + n * interval if n < total else end
        if sel.select(max(0.0, wake - time.monotonic())):
            drain()
    sock.close()
    return {
        "sent": total,
        "answered": len(kernel),
        "lost": len(sent),
        "statuses": statuses,
        "kernel_ms": percentiles(kernel),
        "user_ms": percentiles(user),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--numbers", required=True, help="sipp's -inf file (a header line, then one number a line)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    numbers = [line.strip() for line in Path(args.numbers).read_text().splitlines()[1:] if line.strip()]
    print(json.dumps(probe(args.port, numbers, args.rate, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
