"""The redirect server over real UDP on 127.0.0.1: in a thread of this process (``server``, see
conftest.py), and as workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lcr.sip.counters import Counters
from lcr.sip.server import start_sip_workers
from tests.sip.conftest import ThreadServer
from tests.sip.sipmsg import Response, parse_response, request
from tests.sip.world import WorldSnapshot, real_snapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))  # 127.0.0.1 is globex's source IP in the test world
    sock.settimeout(5)
    yield sock
    sock.close()


def exchange(client: socket.socket, address: tuple[str, int], data: bytes) -> bytes:
    client.sendto(data, address)
    answer, source = client.recvfrom(65535)
    assert source == address
    return answer


def ask(client: socket.socket, address: tuple[str, int], data: bytes) -> Response:
    return parse_response(exchange(client, address, data))


def test_invite_gets_302_with_contacts(server: ThreadServer, client: socket.socket) -> None:
    r = ask(client, server.address, request())
    assert r.status == 302
    assert r.contacts() == [
        ("4455442071234567", "192.0.2.10", "1.0"),
        ("442071234567", "gw.borealis.example:5080", "0.9"),
    ]


def test_retransmission_gets_the_same_bytes(server: ThreadServer, client: socket.socket) -> None:
    assert exchange(client, server.address, request()) == exchange(client, server.address, request())


def test_options_refusals_and_ack(server: ThreadServer, client: socket.socket) -> None:
    assert ask(client, server.address, request("OPTIONS", "sip:lcr.example")).status == 200
    assert ask(client, server.address, request(uri="sip:99912345@x")).status == 404
    assert ask(client, server.address, request(uri="sip:88112345@x")).status == 403
    client.sendto(request("ACK"), server.address)  # absorbed: the next answer is the OPTIONS one
    assert ask(client, server.address, request("OPTIONS", "sip:lcr.example", call_id="o2")).one("Call-ID") == "o2"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="socket filters are Linux's")
def test_the_kernel_drops_acks(server: ThreadServer, client: socket.socket) -> None:
    # ACKs never reach the process (lcr.sip.server.drop_acks_in_kernel): its counters do not see them
    counters = server.endpoint.counters  # type: ignore[union-attr]
    before = counters.datagrams
    for data in (request("ACK"), b"ACK ", b"ACK sip:x SIP/2.0\r\n"):
        client.sendto(data, server.address)
    for data in (b"ACK", b"ACKS x", b"ack x", b"\r\n"):  # what only looks like an ACK still arrives
        client.sendto(data, server.address)
    assert ask(client, server.address, request("OPTIONS", "sip:lcr.example")).status == 200
    assert counters.datagrams == before + 4 + 1
    assert counters.ack_absorbed == 0


def test_server_survives_malformed_datagrams(server: ThreadServer, client: socket.socket) -> None:
    for garbage in (b"\xff" * 1000, b"INVITE", b"", b"\x00" * 10, os.urandom(1400)):
        client.sendto(garbage, server.address)
    assert ask(client, server.address, request()).status == 302
    counters = server.endpoint.counters  # type: ignore[union-attr]
    assert counters.dropped + counters.keepalives >= 4 and counters.redirected == 1
    assert counters.internal_errors == 0


def test_a_swapped_snapshot_reaches_the_next_invite(server: ThreadServer, client: socket.socket) -> None:
    assert ask(client, server.address, request()).status == 302
    server.snapshot = WorldSnapshot(by_ip={})  # a reload (here to the in-test world without globex's IP)
    assert ask(client, server.address, request()).status == 403


def test_serve_sip_with_two_workers_until_sigterm(client: socket.socket) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.sip.serve_world", "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("READY"), line
            _, host, port = line.split()
            assert ask(client, (host, int(port)), request()).status == 302
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0


def test_workers_share_the_port_and_sum_their_counters() -> None:
    snapshot = real_snapshot()
    pool = start_sip_workers("127.0.0.1", 0, lambda: snapshot, workers=2)
    try:
        assert len(pool.pids) == 2
        for i in range(20):  # 20 source ports, one socket read by both workers
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(5)
                assert ask(sock, pool.address, request(call_id=f"w{i}")).status == 302
        deadline = time.monotonic() + 5
        while pool.counters().redirected < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.counters().redirected == 20
    finally:
        pool.stop()


def test_a_stalled_worker_holds_no_datagrams() -> None:
    # the workers read one socket: while one is stopped (as if descheduled on a busy machine), the
    # other answers every datagram at once, even from one peer; with a socket each (SO_REUSEPORT),
    # the stopped one's share waited for it
    snapshot = real_snapshot()
    pool = start_sip_workers("127.0.0.1", 0, lambda: snapshot, workers=2)
    try:
        stopped = pool.pids[0]
        os.kill(stopped, signal.SIGSTOP)
        stat = Path(f"/proc/{stopped}/stat")
        deadline = time.monotonic() + 5
        while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "T" and time.monotonic() < deadline:
            time.sleep(0.01)  # until the kernel has stopped it (where /proc tells)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(2)
                for i in range(100):
                    assert ask(sock, pool.address, request(call_id=f"s{i}")).status == 302, i
        finally:
            os.kill(stopped, signal.SIGCONT)
        deadline = time.monotonic() + 5
        while pool.counters().redirected < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        n = len(Counters.names())
        per_worker = [pool._shared[row * n + Counters.names().index("redirected")] for row in range(2)]
        assert per_worker == [0, 100]
    finally:
        pool.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
def test_workers_stop_when_their_parent_is_killed() -> None:
    # a SIGKILLed parent cannot stop its workers: they notice (within a second) and stop themselves
    with subprocess.Popen(
        [sys.executable, "-m", "tests.sip.serve_world", "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout.readline().startswith("READY")  # type: ignore[union-attr]
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [w for w in workers if Path(f"/proc/{w}").exists()]
        for w in alive:  # do not leave them behind if the test fails
            os.kill(w, signal.SIGKILL)
        assert not alive
