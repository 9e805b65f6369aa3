"""Act: the UDP transport of the redirect server. It receives, asks ``handle_datagram``, sends.

Three entry points, from the most embeddable to the most self-contained:

``await open_sip_endpoint(host, port, get_snapshot)``
    Binds a UDP socket in the running event loop (alongside the HTTP API, say) and returns a
    ``SipEndpoint`` with its ``address``, ``counters`` and ``close()``. The embedder should call
    ``freeze_heap()`` after building each snapshot, and ``gc.freeze()`` now and then (see there).
``start_sip_workers(host, port, get_snapshot, workers=N)``
    Binds one UDP socket, then forks N worker processes, each with its own event loop (uvloop
    when installed) reading that same socket, as Kamailio's children do: a datagram is taken by
    whichever worker reads first, so one worker descheduled by a busy machine does not hold the
    datagrams queued behind it (with a socket each, ``SO_REUSEPORT``, they waited for it: probe
    p99 at 5,000 cps 0.7-3.9 ms against 0.2-0.45 ms shared, at load 2-5, bench/README.md). Their
    counters are summed in shared memory (``SipWorkers.counters()``, refreshed every 0.5 s).
    Each worker calls ``get_snapshot`` in its own process: after the fork a reload in the parent
    does not reach it, so a multi-worker ``get_snapshot`` must notice new data by itself (e.g. a
    generation number in the database or a file's mtime, checked at most every second).
``serve_sip(host, port, get_snapshot, workers=1)``
    Blocks until SIGINT/SIGTERM: one loop in this process, or N workers.

``get_snapshot`` is called once per datagram; it must be cheap (return the current reference).
Sockets get 4 MiB receive and send buffers (as much as ``net.core.rmem_max`` allows), and on
Linux a socket filter that drops ACKs in the kernel (``drop_acks_in_kernel``).
UDP only: TCP is in ``lcr.sip.stream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import RawArray
from typing import Any

from lcr.sip.counters import Counters
from lcr.sip.handler import handle_datagram
from lcr.sip.snapshot import GetSnapshot

log = logging.getLogger("lcr.sip")

BUFFER_BYTES = 4 * 1024 * 1024
_COUNTER_NAMES = Counters.names()


class SipProtocol(asyncio.DatagramProtocol):
    """Receives a datagram, hands it to the pure handler, sends the answer to its source.

    Answers go out with a plain non-blocking ``sendto`` on (a duplicate of) the endpoint's
    socket: ~3 us less per answer than ``transport.sendto`` under uvloop. When the kernel's send
    buffer is full, the transport's own queue takes over.
    """

    def __init__(self, get_snapshot: GetSnapshot, counters: Counters, sock: socket.socket | None = None) -> None:
        self.get_snapshot = get_snapshot
        self.counters = counters
        self.transport: asyncio.DatagramTransport | None = None
        self._sock = sock

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            snapshot = self.get_snapshot()
        except Exception:
            log.exception("get_snapshot failed; datagram from %s dropped", addr)
            self.counters.datagrams += 1
            self.counters.internal_errors += 1
            return
        answer = handle_datagram(data, addr, snapshot, self.counters)
        if answer is None:
            return
        if self._sock is not None:
            try:
                self._sock.sendto(answer, addr)
                return
            except BlockingIOError:
                pass
            except OSError as exc:  # e.g. an ICMP error reported on this send
                log.debug("SIP send to %s failed: %s", addr, exc)
                return
        if self.transport is not None:
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and friends
        log.debug("SIP socket error: %s", exc)


def freeze_heap() -> None:
    """Collect, then move every live object to the collector's permanent generation.

    A route snapshot is hundreds of thousands of long-lived objects (50,000 prefixes: ~290,000);
    each full collection would walk them all (~140 ms, a latency spike on every INVITE queued
    meanwhile). Frozen, they cost the collector nothing, and they are still freed by reference
    counting when a reload drops them. The serving loops call this at start and whenever
    ``get_snapshot()`` returns a new object; an embedder calls it after building a snapshot.
    Between reloads they also ``gc.freeze()`` every 0.5 s (no collection, O(1)): the router's and
    the handler's memos grow by long-lived objects, and without it the collector's full passes
    over them showed up as 40-90 ms p99 spikes at 2,500-5,000 cps. Only cyclic garbage younger
    than the last young collection can be frozen with them; the hot path makes none.
    """
    gc.collect()
    gc.freeze()


def _current(get_snapshot: GetSnapshot) -> object:
    try:
        return get_snapshot()
    except Exception:
        return None


# A classic BPF socket filter: the kernel drops a datagram whose payload starts with "ACK " (the
# payload starts at offset 8, after the UDP header, for IPv4 and IPv6 alike). The handler never
# answers one (RFC 3261 §17.1.1.3), so nothing changes on the wire; the process is not woken
# for the ACK of every call (at 1,000-5,000 cps, ~20-30 % of the CPU per call).
_DROP_ACKS = (
    (0x80, 0, 0, 0),  # ld len                  (the UDP header's 8 bytes + the payload)
    (0x35, 0, 3, 12),  # jge #12, next, accept  (a payload shorter than 4 bytes is no ACK)
    (0x20, 0, 0, 8),  # ld [8]                  (the payload's first 4 bytes)
    (0x15, 0, 1, 0x41434B20),  # jeq "ACK ", drop, accept
    (0x06, 0, 0, 0),  # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # accept: ret #-1 (all of it)
)
_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)


def drop_acks_in_kernel(sock: socket.socket) -> bool:
    """Attach the ``_DROP_ACKS`` filter to a UDP socket (Linux only). True when attached.

    Those ACKs are then neither seen nor counted by the handler (``ack_absorbed`` counts those that
    reach it, e.g. over TCP); the kernel counts them as the socket's drops (``/proc/net/udp``)."""
    if not sys.platform.startswith("linux"):
        return False
    program = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in _DROP_ACKS))
    fprog = struct.pack("HL", len(_DROP_ACKS), ctypes.addressof(program))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)  # the kernel copies the program
    except OSError:  # pragma: no cover - a kernel without socket filters
        return False
    return True


def bind_udp(host: str, port: int) -> socket.socket:
    """A bound, non-blocking UDP socket with large buffers whose ACKs the kernel drops
    (``drop_acks_in_kernel``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        drop_acks_in_kernel(sock)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, opt, BUFFER_BYTES)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class SipEndpoint:
    """One bound UDP socket served by ``SipProtocol`` in the current event loop."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: SipProtocol) -> None:
        self.transport = transport
        self.protocol = protocol

    @property
    def address(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]

    @property
    def counters(self) -> Counters:
        return self.protocol.counters

    def close(self) -> None:
        self.transport.close()


async def open_sip_endpoint(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    *,
    counters: Counters | None = None,
    sock: socket.socket | None = None,
) -> SipEndpoint:
    """Serve ``host``:``port`` (a new socket, ``bind_udp``), or ``sock``, a socket already bound by
    ``bind_udp`` (a worker's share of its parent's)."""
    if sock is None:
        sock = bind_udp(host, port)
    sender = socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno()))
    sender.setblocking(False)
    protocol = SipProtocol(get_snapshot, counters if counters is not None else Counters(), sender)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
    return SipEndpoint(transport, protocol)


def new_event_loop(*, use_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (and wanted), asyncio's otherwise."""
    if not use_uvloop:
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _serve_until_signal(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    *,
    sock: socket.socket | None = None,
    ready: Callable[[tuple[str, int]], None] | None = None,
    publish: Callable[[Counters], None] | None = None,
    parent: int | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or, for a worker, until its ``parent`` process is gone)."""
    endpoint = await open_sip_endpoint(host, port, get_snapshot, sock=sock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("SIP redirect server on udp:%s:%d (pid %d)", *endpoint.address, os.getpid())
    current = _current(get_snapshot)
    freeze_heap()
    if ready is not None:
        ready(endpoint.address)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if publish is not None:
                publish(endpoint.counters)
            if parent is not None and os.getppid() != parent:  # orphaned (the parent was killed)
                log.warning("SIP worker %d: parent %d is gone, stopping", os.getpid(), parent)
                break
            latest = _current(get_snapshot)
            if latest is not current:  # a reload: take the new snapshot out of the collector's sight
                current = latest
                freeze_heap()
            else:  # what survived the young collections (memo entries): out of sight too
                gc.freeze()
    finally:
        endpoint.close()


def _worker_main(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    shared: Any,
    row: int,
    ready: Any,
    sock: socket.socket,
    use_uvloop: bool,
    init: Callable[[], None] | None,
) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):  # not the parent's handlers, until the loop sets its own
        signal.signal(sig, signal.SIG_DFL)
    if init is not None:
        init()  # e.g. build the worker's own router: before the worker counts as ready
    base = row * len(_COUNTER_NAMES)
    parent = os.getppid()

    def publish(counters: Counters) -> None:
        for i, name in enumerate(_COUNTER_NAMES):
            shared[base + i] = getattr(counters, name)

    with asyncio.Runner(loop_factory=lambda: new_event_loop(use_uvloop=use_uvloop)) as runner:
        runner.run(
            _serve_until_signal(
                host,
                port,
                get_snapshot,
                sock=sock,
                ready=lambda _a: ready.set(),
                publish=publish,
                parent=parent,
            )
        )


class SipWorkers:
    """N forked worker processes serving one UDP socket."""

    def __init__(
        self,
        host: str,
        port: int,
        get_snapshot: GetSnapshot,
        workers: int,
        *,
        uvloop: bool = True,
        init: Callable[[], None] | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        """``init``: called first in each worker (e.g. to build the worker's own router, which
        ``get_snapshot`` then reads); the workers must be serving within ``ready_timeout`` s."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        ctx = multiprocessing.get_context("fork")
        self._shared = RawArray("q", workers * len(_COUNTER_NAMES))
        # One socket for all: each worker inherits it (fork) and serves it; the parent's copy is
        # closed once they are up (the workers' copies keep it open).
        sock = bind_udp(host, port)
        self.address: tuple[str, int] = sock.getsockname()[:2]
        self._procs = []
        events = []
        try:
            for row in range(workers):
                ready = ctx.Event()
                proc = ctx.Process(
                    target=_worker_main,
                    args=(host, self.address[1], get_snapshot, self._shared, row, ready, sock, uvloop, init),
                    name=f"lcr-sip-{row}",
                    daemon=True,
                )
                proc.start()
                self._procs.append(proc)
                events.append(ready)
            deadline = time.monotonic() + ready_timeout
            for proc, ready in zip(self._procs, events, strict=True):
                while not ready.wait(0.1):
                    if not proc.is_alive() or time.monotonic() > deadline:
                        raise RuntimeError(f"SIP worker {proc.name} did not start")
        except BaseException:
            self.stop()
            raise
        finally:
            sock.close()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def counters(self) -> Counters:
        """The workers' counts, summed (as of their last publication, at most 0.5 s old)."""
        total = Counters()
        n = len(_COUNTER_NAMES)
        for row in range(len(self._procs)):
            for i, name in enumerate(_COUNTER_NAMES):
                setattr(total, name, getattr(total, name) + self._shared[row * n + i])
        return total

    def stop(self, timeout: float = 5.0) -> None:
        for proc in self._procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def join(self) -> None:
        for proc in self._procs:
            proc.join()


def start_sip_workers(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    *,
    workers: int,
    uvloop: bool = True,
    init: Callable[[], None] | None = None,
    ready_timeout: float = 30.0,
) -> SipWorkers:
    return SipWorkers(host, port, get_snapshot, workers, uvloop=uvloop, init=init, ready_timeout=ready_timeout)


def serve_sip(
    host: str,
    port: int,
    get_snapshot: GetSnapshot,
    *,
    workers: int = 1,
    ready: Callable[[tuple[str, int]], None] | None = None,
    uvloop: bool = True,
) -> None:
    """Serve until SIGINT/SIGTERM. ``ready(address)`` is called once the port is bound.
    ``uvloop=False`` uses asyncio's own loop (for comparison)."""
    if workers == 1:
        with asyncio.Runner(loop_factory=lambda: new_event_loop(use_uvloop=uvloop)) as runner:
            runner.run(_serve_until_signal(host, port, get_snapshot, ready=ready))
        return
    stopping = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    # before the fork and before ready(): a SIGTERM sent as soon as the port is announced counts
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        pool = start_sip_workers(host, port, get_snapshot, workers=workers, uvloop=uvloop)
    except BaseException:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    if ready is not None:
        ready(pool.address)
    try:
        while not stopping and any(p.is_alive() for p in pool._procs):
            time.sleep(0.2)
    finally:
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
