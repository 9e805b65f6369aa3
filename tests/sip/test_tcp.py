"""SIP over TCP (``lcr.sip.stream``): framing per RFC 3261 §18.3, over real sockets and in memory.

The socket tests talk to ``server`` (conftest.py: UDP and TCP on one port of 127.0.0.1, in a thread)
from 127.0.0.1, globex's source IP in the test world. The in-memory tests feed one connection's
protocol every way a stream can be cut into segments.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lcr.errors import InputError
from lcr.serve import sip_tcp_limits
from lcr.sip.counters import Counters
from lcr.sip.message import MAX_MESSAGE
from lcr.sip.stream import IDLE_TIMEOUT, MAX_CONNECTIONS, MAX_HEADER, SipStreamProtocol
from tests.sip.conftest import ThreadServer, run_sipp
from tests.sip.sipmsg import Response, parse_response, request
from tests.sip.world import WorldSnapshot

HERE = Path(__file__).resolve().parent
TCP_VIA = "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-t1"
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
CONTACTS = [("4455442071234567", "192.0.2.10", "1.0"), ("442071234567", "gw.borealis.example:5080", "0.9")]


def invite(call_id: str = "tcp-1", **kwargs: object) -> bytes:
    return request(vias=(TCP_VIA,), call_id=call_id, **kwargs)  # type: ignore[arg-type]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


class Peer:
    """A TCP client of the server: sends bytes, reads whole responses (header section, no body)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed with {self.buffer!r} read"
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def response(self) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed with {self.buffer!r} read"
            self.buffer += chunk
        end = self.buffer.index(b"\r\n\r\n") + 4
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return parse_response(data)  # asserts Content-Length: 0, so the response ends here

    def closed_by_server(self) -> bool:
        """True once the server has closed the connection (EOF or reset); whatever it sent is read."""
        try:
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer(server: ThreadServer) -> Iterator[Peer]:
    p = Peer(server.address)
    yield p
    p.close()


def counters(server: ThreadServer) -> Counters:
    return server.stream.counters  # type: ignore[union-attr]


def test_invite_over_tcp_gets_302_with_contacts(server: ThreadServer, peer: Peer) -> None:
    peer.send(invite())
    r = peer.response()
    assert r.status == 302
    assert r.contacts() == CONTACTS
    assert r.all("Via") == [TCP_VIA]  # copied unchanged: the softswitch's TCP Via
    assert r.one("Call-ID") == "tcp-1"
    # the same port serves UDP too, with the same counters
    assert server.stream.address == server.address  # type: ignore[union-attr]
    assert counters(server) is server.endpoint.counters  # type: ignore[union-attr]
    assert counters(server).redirected == 1


def test_two_pipelined_invites_in_one_send(server: ThreadServer, peer: Peer) -> None:
    peer.send(invite("p-1") + invite("p-2", uri="sip:88112345@lcr.example"))
    first, second = peer.response(), peer.response()
    assert (first.status, first.one("Call-ID")) == (302, "p-1")
    assert (second.status, second.one("Call-ID")) == (403, "p-2")


def test_one_invite_split_over_three_sends(server: ThreadServer, peer: Peer) -> None:
    data = invite("split", body=SDP, extra=("Content-Type: application/sdp",))
    blank = data.index(b"\r\n\r\n")
    middle = blank + 4 + len(SDP) // 2
    pieces = [data[: blank + 3], data[blank + 3 : middle], data[middle:]]  # cut inside CRLFCRLF, and in the body
    assert all(pieces)
    stream = server.stream
    assert stream is not None
    sent = 0
    for piece in pieces[:-1]:
        peer.send(piece)
        sent += len(piece)
        # the server has read the piece and holds it, unanswered, until the message is whole
        wait_for(lambda n=sent: [len(c._buffer) for c in stream.connections] == [n])  # type: ignore[misc]
    assert counters(server).datagrams == 0
    peer.send(pieces[-1])
    r = peer.response()
    assert (r.status, r.one("Call-ID")) == (302, "split")
    assert counters(server).datagrams == 1


def test_crlf_keepalive_gets_a_pong(server: ThreadServer, peer: Peer) -> None:
    peer.send(b"\r\n\r\n")  # RFC 5626 ping
    assert peer.read_exactly(2) == b"\r\n"  # pong
    peer.send(b"\r\n" + invite())  # a stray CRLF before a message is skipped
    assert peer.response().status == 302
    assert counters(server).keepalives == 1


def test_garbage_gets_the_connection_closed_while_others_are_served(server: ThreadServer, peer: Peer) -> None:
    other = Peer(server.address)
    try:
        garbage = Peer(server.address)
        garbage.send(os.urandom(MAX_HEADER + 100).replace(b"\n", b"x"))  # no end of header in sight
        assert garbage.closed_by_server()
        assert garbage.buffer == b""
        garbage.close()
        assert counters(server).malformed_oversized == 1 and counters(server).dropped == 1
        other.send(invite("still"))  # opened before, served after
        assert other.response().status == 302
        peer.send(invite("also"))
        assert peer.response().status == 302
        wait_for(lambda: len(server.stream.connections) == 2)  # type: ignore[union-attr]
    finally:
        other.close()


def test_missing_content_length_gets_400_and_the_connection_closed(server: ThreadServer, peer: Peer) -> None:
    data = invite().replace(b"Content-Length: 0\r\n", b"")
    peer.send(data)
    r = peer.response()
    assert r.status == 400 and "Content-Length" in r.reason
    assert peer.closed_by_server()
    c = counters(server)
    assert (c.bad_request, c.malformed_content_length) == (1, 1)


def test_a_message_larger_than_the_limit_gets_the_connection_closed(server: ThreadServer, peer: Peer) -> None:
    peer.send(invite().replace(b"Content-Length: 0", f"Content-Length: {MAX_MESSAGE}".encode()))
    assert peer.closed_by_server()
    assert peer.buffer == b"" and counters(server).malformed_oversized == 1


# --- limits: idle connections are closed, connections beyond the cap are refused --------------

IDLE = 0.3  # seconds: the idle timeout of these tests' server


@pytest.fixture
def limited() -> Iterator[ThreadServer]:
    s = ThreadServer(idle_timeout=IDLE, max_connections=2)
    yield s
    s.stop()


def closed_after(peer: Peer) -> float:
    """Seconds until the server closes ``peer``'s connection."""
    started = time.monotonic()
    assert peer.closed_by_server()
    return time.monotonic() - started


def test_a_silent_connection_is_closed_after_the_idle_timeout(limited: ThreadServer) -> None:
    peer = Peer(limited.address)
    try:
        waited = closed_after(peer)
        assert IDLE * 0.9 <= waited < IDLE + 2
        assert counters(limited).tcp_idle_closed == 1
        wait_for(lambda: not limited.stream.connections)  # type: ignore[union-attr]
    finally:
        peer.close()


def test_messages_and_pings_keep_a_connection_open(limited: ThreadServer) -> None:
    peer = Peer(limited.address)
    try:
        started = time.monotonic()
        for n in range(8):  # 8 x IDLE / 2: the connection outlives its idle timeout 4 times over
            if n % 2:
                peer.send(b"\r\n\r\n")
                assert peer.read_exactly(2) == b"\r\n"
            else:
                peer.send(invite(f"alive-{n}"))
                assert peer.response().status == 302
            time.sleep(IDLE / 2)
        assert time.monotonic() - started > 3 * IDLE
        assert counters(limited).tcp_idle_closed == 0
        assert closed_after(peer) < IDLE + 2  # then silence: closed
        assert counters(limited).tcp_idle_closed == 1
    finally:
        peer.close()


def test_a_header_trickled_byte_by_byte_does_not_keep_a_connection_open(limited: ThreadServer) -> None:
    peer = Peer(limited.address)
    try:
        started = time.monotonic()
        data = invite("slow")
        with pytest.raises(OSError):  # the server closes it while bytes still trickle in
            for i in range(len(data) - 1):  # never the whole message
                peer.send(data[i : i + 1])
                time.sleep(IDLE / 10)
        assert time.monotonic() - started < len(data) * IDLE / 10
        assert counters(limited).tcp_idle_closed == 1 and counters(limited).datagrams == 0
    finally:
        peer.close()


def test_connections_beyond_the_cap_are_closed_at_once(limited: ThreadServer) -> None:
    stream = limited.stream
    assert stream is not None
    first, second = Peer(limited.address), Peer(limited.address)
    try:
        wait_for(lambda: len(stream.connections) == 2)
        third = Peer(limited.address)
        third.send(invite("refused"))
        assert closed_after(third) < IDLE  # refused, not timed out
        assert third.buffer == b""  # unread, unanswered
        third.close()
        c = counters(limited)
        assert (c.tcp_accepted, c.tcp_refused, c.datagrams) == (2, 1, 0)
        first.send(invite("served"))  # the two open ones are served as ever
        assert first.response().status == 302
        second.close()  # one closes: room for a new one
        wait_for(lambda: len(stream.connections) == 1)
        fourth = Peer(limited.address)
        fourth.send(invite("room"))
        assert fourth.response().status == 302
        fourth.close()
        assert (c.tcp_accepted, c.tcp_refused) == (3, 1)
    finally:
        first.close()
        second.close()


def test_the_default_server_has_both_limits(server: ThreadServer) -> None:
    stream = server.stream
    assert stream is not None
    assert (stream.idle_timeout, stream.max_connections) == (IDLE_TIMEOUT, MAX_CONNECTIONS) == (60.0, 1000)


@pytest.mark.parametrize(
    ("idle", "cap", "expected"),
    [
        ("", "", (60.0, 1000)),  # unset: the defaults
        ("2.5", "10", (2.5, 10)),
        ("0", "1", (None, 1)),  # 0: never closed for idleness
        ("-1", "10", InputError),
        ("soon", "10", InputError),
        ("inf", "10", InputError),
        ("60", "0", InputError),
        ("60", "many", InputError),
    ],
)
def test_lcr_serve_reads_the_limits_from_its_settings(
    monkeypatch: pytest.MonkeyPatch, idle: str, cap: str, expected: object
) -> None:
    monkeypatch.setenv("LCR_SIP_TCP_IDLE", idle)
    monkeypatch.setenv("LCR_SIP_TCP_MAX_CONNECTIONS", cap)
    if expected is InputError:
        with pytest.raises(InputError, match="LCR_SIP_TCP_"):
            sip_tcp_limits()
    else:
        assert sip_tcp_limits() == expected


# --- framing in memory: every segmentation of a stream gives the same answers -----------------


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False
        self.paused = False

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 5999) if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def feed(chunks: list[bytes]) -> tuple[FakeTransport, Counters]:
    snapshot = WorldSnapshot()
    counts = Counters()
    protocol = SipStreamProtocol(lambda: snapshot, counts, set())
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    for chunk in chunks:
        protocol.data_received(chunk)
    return transport, counts


STREAM = (
    b"\r\n\r\n"  # a ping
    + invite("s-1", body=SDP)
    + b"\r\n"  # a stray CRLF
    + request("OPTIONS", "sip:lcr.example", vias=(TCP_VIA,), call_id="s-2", names={"Via": "v"}).replace(
        b"Content-Length: 0", b"l: 0"
    )
    + b"SIP/2.0 200 OK\r\nVia: "
    + TCP_VIA.encode()
    + b"\r\nContent-Length: 0\r\n\r\n"  # a response: ignored
    + invite("s-3", eol="\n", body="x\n\ny")  # bare LF line ends, a blank line in the body
    + b"\r\n\r\n"
)


def test_any_two_cuts_give_the_same_answers() -> None:
    whole, counts = feed([STREAM])
    statuses = [parse_response(w).status if w != b"\r\n" else "pong" for w in whole.written]
    assert statuses == ["pong", 302, 200, 302, "pong"]
    assert (counts.datagrams, counts.keepalives, counts.responses_ignored) == (6, 2, 1)
    assert not whole.closed
    # every single cut is in test_byte_by_byte; here pairs of cuts, before every LF (between CR and LF,
    # where framing decides) and at every 29th byte (inside names, values and bodies)
    points = sorted({i for i in range(1, len(STREAM)) if STREAM[i] == 0x0A} | set(range(1, len(STREAM), 29)))
    for n, i in enumerate(points):
        for j in points[n:]:
            cut, _ = feed([STREAM[:i], STREAM[i:j], STREAM[j:]])
            assert cut.written == whole.written, (i, j)


def test_byte_by_byte() -> None:
    one, _ = feed([STREAM[i : i + 1] for i in range(len(STREAM))])
    whole, _ = feed([STREAM])
    assert one.written == whole.written


@pytest.mark.parametrize(
    ("stream", "answers", "closed", "counts"),
    [
        # no Content-Length and no Via: nothing to answer, the connection is closed
        (b"INVITE sip:1@x SIP/2.0\r\nFrom: a\r\n\r\n", [], True, {"dropped": 1}),
        # a Content-Length that is not a number: 400, closed
        (invite().replace(b"Content-Length: 0", b"Content-Length: zero"), [400], True, {"bad_request": 1}),
        # an ACK without Content-Length: absorbed as ever, but the stream cannot be framed any more
        (request("ACK").replace(b"Content-Length: 0\r\n", b""), [], True, {"ack_absorbed": 1}),
        # a header section right at the limit is read; one byte more is not
        (b"x" * (MAX_HEADER - 1), [], False, {}),
        (b"x" * MAX_HEADER, [], True, {"dropped": 1, "malformed_oversized": 1}),
        # two CRLFs then a message: a ping, then the message
        (b"\r\n\r\n" + invite(), [b"\r\n", 302], False, {"keepalives": 1, "redirected": 1}),
        # an unfinished ping waits for its end
        (b"\r\n\r", [], False, {}),
    ],
)
def test_edge_cases(stream: bytes, answers: list[object], closed: bool, counts: dict[str, int]) -> None:
    transport, c = feed([stream])
    got = [w if w == b"\r\n" else parse_response(w).status for w in transport.written]
    assert got == answers
    assert transport.closed is closed
    d = {
        k: v
        for k, v in c.as_dict().items()
        if v and k not in ("datagrams", "invites") and not k.startswith(("malformed_", "tcp_"))
    }
    assert d == {k: v for k, v in counts.items() if not k.startswith("malformed_")}
    assert c.datagrams == sum(d.values())  # every message lands in exactly one outcome


def test_a_peer_that_does_not_read_is_not_read_either() -> None:
    snapshot = WorldSnapshot()
    protocol = SipStreamProtocol(lambda: snapshot, Counters(), set())
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.pause_writing()
    assert transport.paused
    protocol.resume_writing()
    assert not transport.paused


# --- a real SIP tester over TCP -----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (apt-get install sip-tester)")
def test_sipp_acceptance_scenario_over_tcp(server: ThreadServer, tmp_path: Path) -> None:
    done = run_sipp(HERE / "sipp" / "lcr_uac.xml", server.address, tmp_path, calls=10, transport="t1")
    errors = (tmp_path / "errors.log").read_text() if (tmp_path / "errors.log").exists() else ""
    assert done.returncode == 0, done.stdout[-2000:] + errors
    assert server.stream.accepted == 1  # type: ignore[union-attr]  # sipp -t t1: all calls on one connection
    assert counters(server).redirected == 10 and counters(server).options == 10
    assert counters(server).bad_request == counters(server).dropped == 0
