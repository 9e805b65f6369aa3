"""Act: the TCP transport of the redirect server. It frames, asks ``handle_datagram``, writes.

``await open_sip_stream_server(host, port, get_snapshot)`` listens for SIP over TCP in the running
event loop and returns a ``SipStreamServer`` (``address``, ``counters``, ``connections``, ``close()``).
``await open_sip_listeners(host, port, get_snapshot)`` binds UDP and TCP on the same port (one
``Counters`` for both), as ``lcr serve`` does.

One ``SipStreamProtocol`` per connection cuts the byte stream into messages (RFC 3261 §18.3)
and answers each with the very ``handle_datagram`` the UDP endpoint uses, with the peer's
(ip, port) as the source: the customer is found by the connection's source IP, as over UDP. The
answer goes back on the same connection (§18.2.2). Framing:

- A message is its header section, up to the first blank line (CRLF CRLF; a bare LF LF is
  accepted, as the parser accepts bare LF line ends), then exactly ``Content-Length`` body bytes.
  Several messages in one segment and one message over several segments are both fine.
- ``Content-Length`` is mandatory over TCP. A message without one (or with one that is not a
  number) cannot be framed: the handler answers it like a malformed request (400 Bad Request
  when there is a Via to answer to, counted ``malformed_content_length``), then the connection
  is closed, since where the next message starts is unknown.
- CRLFs between messages are skipped (RFC 3261 §7.5). A double CRLF where a message would start
  is an RFC 5626 §4.4.1 keep-alive ping: answered with a single CRLF (the pong), counted as a
  ``keepalives``.
- A header section longer than ``MAX_HEADER`` bytes (no blank line yet), or a message longer
  than ``MAX_MESSAGE`` (the UDP limit), closes the connection, counted ``malformed_oversized``
  and ``dropped``: a peer sending garbage is cut off after ``MAX_HEADER`` bytes (one read more at
  most), while the other connections are served as ever.

Each message counts as one ``datagrams`` in the shared ``Counters``, so the outcome counts still
sum to it. When a peer does not read its answers, reading from it pauses until the transport's
write buffer drains. Only ``lcr serve`` listens on TCP: ``serve_sip`` and its forked workers
(``lcr.sip.server``) serve UDP.

Connections are kept open while the peer uses them (softswitches keep one per trunk), with two
limits, so that idle or hostile peers cannot pile up file descriptors:

- ``idle_timeout`` (seconds, default ``IDLE_TIMEOUT``; ``lcr serve``: ``LCR_SIP_TCP_IDLE``): a
  connection on which no complete message (a keep-alive ping counts) arrived for that long is
  closed, counted ``tcp_idle_closed``. A peer trickling an endless header is cut off the same way.
  One timer per connection, re-armed lazily: a message costs a clock read, not a timer.
- ``max_connections`` (default ``MAX_CONNECTIONS``; ``LCR_SIP_TCP_MAX_CONNECTIONS``): a
  connection accepted while that many are open is closed at once, unread, counted
  ``tcp_refused``. The others are counted ``tcp_accepted``. Keep it below the process's open-file
  limit (``ulimit -n``), so that the server refuses before ``accept`` fails.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from lcr.sip.counters import Counters
from lcr.sip.handler import handle_datagram
from lcr.sip.message import MAX_MESSAGE
from lcr.sip.server import SipEndpoint, open_sip_endpoint
from lcr.sip.snapshot import GetSnapshot

log = logging.getLogger("lcr.sip")

#: A header section (request line + headers + blank line) may be this long; beyond: closed.
MAX_HEADER = 16_384
BACKLOG = 1024
#: Seconds without a complete message after which a connection is closed.
IDLE_TIMEOUT = 60.0
#: Open connections at most; one more is closed as soon as it is accepted.
MAX_CONNECTIONS = 1000

_CRLF = b"\r\n"
_PING = b"\r\n\r\n"


def _content_length(head: bytes) -> int | None:
    """The Content-Length of a header section (``l`` is its compact form); None when absent or not
    a number, or when two disagree. The handler's parser judges the rest of the message."""
    value: bytes | None = None
    for line in head.split(b"\n")[1:]:
        name, colon, rest = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name != b"content-length" and name != b"l":
            continue
        rest = rest.strip()
        if value is not None and rest != value:
            return None
        value = rest
    if value is None or not value.isdigit() or len(value) > 6:
        return None
    return int(value)


def _has_content_length(head: bytes) -> bool:
    return any(
        line.partition(b":")[0].strip().lower() in (b"content-length", b"l")
        for line in head.split(b"\n")[1:]
        if b":" in line
    )


class SipStreamProtocol(asyncio.Protocol):
    """One TCP connection: frames SIP messages, answers each with ``handle_datagram``."""

    def __init__(
        self,
        get_snapshot: GetSnapshot,
        counters: Counters,
        connections: set[SipStreamProtocol],
        *,
        idle_timeout: float | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.get_snapshot = get_snapshot
        self.counters = counters
        self.connections = connections
        self.idle_timeout = idle_timeout  # None: never closed for idleness
        self.max_connections = max_connections  # None: no cap
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self._buffer = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None  # set while an idle timer runs
        self._timer: asyncio.TimerHandle | None = None
        self._last_message = 0.0  # loop time of the last complete message (or of the connection)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if peer else ("", 0)
        if self.max_connections is not None and len(self.connections) >= self.max_connections:
            self.counters.tcp_refused += 1
            if self.counters.tcp_refused % 1000 == 1:  # the first, then one in 1,000: a flood floods no log
                log.warning("SIP over TCP: %d connections open (the cap), connection from %s refused (%d so far)",
                            len(self.connections), self.peer, self.counters.tcp_refused)  # fmt: skip
            transport.close()  # self.transport stays None: nothing it sends is read
            return
        self.transport = transport  # type: ignore[assignment]
        self.counters.tcp_accepted += 1
        self.connections.add(self)
        if self.idle_timeout is not None and self.idle_timeout > 0:
            self._loop = asyncio.get_running_loop()
            self._last_message = self._loop.time()
            self._timer = self._loop.call_later(self.idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.transport = None
        self._buffer.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_idle(self) -> None:
        """The idle timer: close when the last complete message is ``idle_timeout`` old, else re-arm
        for what is left."""
        assert self._loop is not None and self.idle_timeout is not None
        self._timer = None
        if self.transport is None or self.transport.is_closing():
            return
        left = self._last_message + self.idle_timeout - self._loop.time()
        if left > 0:
            self._timer = self._loop.call_later(left, self._check_idle)
            return
        self.counters.tcp_idle_closed += 1
        log.debug("SIP over TCP from %s: no message for %g s, connection closed", self.peer, self.idle_timeout)
        self._close()

    def pause_writing(self) -> None:  # the peer does not read its answers: stop reading its requests
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pos = 0
        try:
            while self.transport is not None and not self.transport.is_closing():
                consumed = self._next(buf, pos)
                if consumed is None:  # an incomplete message: wait for more
                    break
                pos = consumed
        finally:
            if self.transport is None or self.transport.is_closing():
                buf.clear()
            elif pos:
                del buf[:pos]

    def _next(self, buf: bytearray, pos: int) -> int | None:
        """Handle what starts at ``buf[pos]``: the position after it, or None to wait for more bytes."""
        size = len(buf)
        if pos >= size:
            return None
        if buf[pos] == 0x0D or buf[pos] == 0x0A:  # CRLFs between messages, or a keep-alive ping
            if buf.startswith(_PING, pos):
                self._answer(_PING)  # counted by the handler as a keep-alive; it answers nothing
                self._write(_CRLF)
                return pos + 4
            if size - pos < 4 and _PING.startswith(bytes(buf[pos:])):
                return None  # maybe the start of a ping split over segments
            return pos + (2 if buf.startswith(_CRLF, pos) else 1)
        end = buf.find(b"\r\n\r\n", pos, pos + MAX_HEADER)
        lf = buf.find(b"\n\n", pos, pos + MAX_HEADER if end < 0 else end)
        if lf >= 0:
            end, blank = lf, 2
        else:
            blank = 4
        if end < 0:
            if size - pos >= MAX_HEADER:
                self._oversized()
            return None
        head_end = end + blank
        length = _content_length(bytes(buf[pos:end]))
        if length is None:  # cannot be framed: answer what can be answered, then hang up
            head = bytes(buf[pos:end])
            if not _has_content_length(head):  # marked, so that the handler refuses it as a bad one
                head += b"\r\nContent-Length: missing" if blank == 4 else b"\nContent-Length: missing"
            self._answer(head + bytes(buf[end:head_end]))
            self._close()
            return None
        if head_end - pos + length > MAX_MESSAGE:
            self._oversized()
            return None
        if head_end + length > size:
            return None
        self._answer(bytes(buf[pos : head_end + length]))
        return head_end + length

    def _answer(self, message: bytes) -> None:
        if self._loop is not None:
            self._last_message = self._loop.time()
        try:
            snapshot = self.get_snapshot()
        except Exception:
            log.exception("get_snapshot failed; message from %s dropped", self.peer)
            self.counters.datagrams += 1
            self.counters.internal_errors += 1
            return
        answer = handle_datagram(message, self.peer, snapshot, self.counters)
        if answer is not None:
            self._write(answer)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _oversized(self) -> None:
        c = self.counters
        c.datagrams += 1
        c.malformed_oversized += 1
        c.dropped += 1
        log.debug("SIP over TCP from %s: message larger than allowed, connection closed", self.peer)
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()  # what was written is still sent first


class SipStreamServer:
    """A listening TCP socket whose connections are served by ``SipStreamProtocol``.

    ``connections``: the open ones; ``accepted``: how many were accepted since it started (the
    refused included; ``counters.tcp_accepted`` counts those served)."""

    def __init__(
        self,
        get_snapshot: GetSnapshot,
        counters: Counters,
        *,
        idle_timeout: float | None = IDLE_TIMEOUT,
        max_connections: int | None = MAX_CONNECTIONS,
    ) -> None:
        self.get_snapshot = get_snapshot
        self.counters = counters
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.connections: set[SipStreamProtocol] = set()
        self.accepted = 0
        self.server: asyncio.Server | None = None

    def protocol(self) -> SipStreamProtocol:
        self.accepted += 1
        return SipStreamProtocol(
            self.get_snapshot,
            self.counters,
            self.connections,
            idle_timeout=self.idle_timeout,
            max_connections=self.max_connections,
        )

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[:2]

    def close(self) -> None:
        """Stop listening and close every open connection."""
        if self.server is not None:
            self.server.close()
        for protocol in list(self.connections):
            if protocol.transport is not None:
                protocol.transport.close()


async def open_sip_stream_server(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    *,
    counters: Counters | None = None,
    idle_timeout: float | None = IDLE_TIMEOUT,
    max_connections: int | None = MAX_CONNECTIONS,
) -> SipStreamServer:
    """``idle_timeout`` None or 0: connections are never closed for idleness; ``max_connections``
    None: no cap."""
    stream = SipStreamServer(
        get_snapshot,
        counters if counters is not None else Counters(),
        idle_timeout=idle_timeout,
        max_connections=max_connections,
    )
    stream.server = await asyncio.get_running_loop().create_server(
        stream.protocol,
        host,
        port,
        family=socket.AF_INET6 if ":" in host else socket.AF_INET,
        backlog=BACKLOG,
        reuse_address=True,
    )
    return stream


async def open_sip_listeners(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    *,
    attempts: int = 20,
    idle_timeout: float | None = IDLE_TIMEOUT,
    max_connections: int | None = MAX_CONNECTIONS,
) -> tuple[SipEndpoint, SipStreamServer]:
    """UDP and TCP on the same port, sharing one ``Counters``. With port 0 the UDP port is picked by
    the kernel and TCP takes the same number, trying another when that one is taken over TCP.
    ``idle_timeout`` and ``max_connections``: the TCP limits (``open_sip_stream_server``)."""
    for attempt in range(attempts if port == 0 else 1):
        endpoint = await open_sip_endpoint(host, port, get_snapshot)
        try:
            stream = await open_sip_stream_server(
                host,
                endpoint.address[1],
                get_snapshot,
                counters=endpoint.counters,
                idle_timeout=idle_timeout,
                max_connections=max_connections,
            )
        except OSError:
            endpoint.close()
            if port != 0 or attempt == attempts - 1:
                raise
            continue
        return endpoint, stream
    raise AssertionError("unreachable")  # pragma: no cover
