"""``lcr serve``: the HTTP API and the SIP redirect server in one event loop, over one router.

Both read ``RouterService.snapshot()``, so a reload (a deck import, a customer change, a payment)
reaches HTTP and SIP at the same moment. uvicorn runs on uvloop with httptools; the SIP endpoint
is a UDP socket and a TCP listener on the same port, in the same loop, with one set of counters.

With ``sip_workers`` N > 1, SIP over UDP is answered by N forked processes reading one socket
(``lcr.sip.server.SipWorkers``): a worker the scheduler sets aside does not hold the datagrams
queued behind it, which is what keeps the tail short on a busy host (bench/README.md, SIP). The
workers are forked first, before this process touches Polars (whose thread pool does not survive
a fork: a child using it would wait forever), and each builds and keeps current its own
``RouterService`` (the store is polled or LISTENed to per process), so a change reaches every
worker as it reaches the HTTP process. The cost is memory: N + 1 routers. HTTP and SIP over TCP
stay in the parent, whose ``/metrics`` sums the workers' counters with its own.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

from sqlalchemy import Engine

from lcr import config
from lcr.api.app import create_app
from lcr.api.auth import Auth
from lcr.api.metrics import Metrics
from lcr.decks.plan import NoticePolicy
from lcr.errors import InputError
from lcr.routing import Snapshot
from lcr.serving import RouterService
from lcr.sip.server import SipWorkers

log = logging.getLogger("lcr.serve")


def sip_tcp_limits() -> tuple[float | None, int]:
    """(idle timeout in seconds, cap on open connections) of SIP over TCP, from ``LCR_SIP_TCP_IDLE``
    and ``LCR_SIP_TCP_MAX_CONNECTIONS``; an idle timeout of 0 is None (never)."""
    idle_text, cap_text = config.SIP_TCP_IDLE.get(), config.SIP_TCP_MAX_CONNECTIONS.get()
    try:
        idle = float(idle_text)
    except ValueError:
        idle = -1.0
    if not 0 <= idle < float("inf"):
        raise InputError(f"{config.SIP_TCP_IDLE.env} {idle_text!r} is not a number of seconds >= 0")
    if not cap_text.isdigit() or int(cap_text) < 1:
        raise InputError(f"{config.SIP_TCP_MAX_CONNECTIONS.env} {cap_text!r} is not a whole number >= 1")
    return (idle or None), int(cap_text)


def parse_workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise InputError(f"{config.SIP_WORKERS.env} / --sip-workers {text!r} is not a number of processes (1-64)")
    return int(text)


def parse_hostport(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InputError(f"{flag} {text!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve(
    engine: Engine,
    *,
    http: tuple[str, int] | None,
    sip: tuple[str, int] | None,
    auth: Auth,
    profiles_dir: Path,
    notice_policy: NoticePolicy = NoticePolicy.WARN,
    ready: Callable[[dict[str, tuple[str, int]]], None] | None = None,
    workers: SipWorkers | None = None,
) -> None:
    """``workers``: SIP workers already serving UDP on the ``sip`` port (this process then serves
    SIP over TCP only)."""
    import uvicorn

    from lcr.sip.stream import open_sip_listeners, open_sip_stream_server

    idle, cap = sip_tcp_limits()  # a bad setting fails before anything starts
    service = RouterService(engine)
    service.start()
    metrics = Metrics()
    bound: dict[str, tuple[str, int]] = {}
    endpoint = stream = None
    try:
        if sip is not None and workers is not None:
            stream = await open_sip_stream_server(sip[0], workers.address[1], service.snapshot, idle_timeout=idle,
                                                  max_connections=cap)
            tcp = stream.counters

            def summed() -> dict[str, int]:
                total = workers.counters()
                total.add(tcp)
                return total.as_dict()

            metrics.sources["lcr_sip_total"] = summed
            bound["sip"] = workers.address
            log.info("SIP redirect server on udp:%s:%d (%d workers, pids %s) and tcp:%s:%d", *workers.address,
                     len(workers.pids), workers.pids, *stream.address)
        elif sip is not None:
            endpoint, stream = await open_sip_listeners(
                sip[0], sip[1], service.snapshot, idle_timeout=idle, max_connections=cap
            )
            metrics.sources["lcr_sip_total"] = endpoint.counters.as_dict
            bound["sip"] = endpoint.address
            log.info("SIP redirect server on udp:%s:%d and tcp:%s:%d", *endpoint.address, *stream.address)
        if auth.demo_mode:
            log.warning("no API token configured (LCR_API_TOKEN): demo mode, HTTP serves loopback clients only")
        if http is None:
            if ready is not None:
                ready(bound)
            await asyncio.Event().wait()
            return
        app = create_app(service, auth=auth, metrics=metrics, profiles_dir=profiles_dir, notice_policy=notice_policy)
        config = uvicorn.Config(app, host=http[0], port=http[1], http="httptools", loop="none", access_log=False,
                                log_level="info", lifespan="off")
        server = uvicorn.Server(config)
        if ready is not None:
            async def announce() -> None:
                while not server.started:
                    await asyncio.sleep(0.02)
                sock = server.servers[0].sockets[0] if server.servers else None
                bound["http"] = sock.getsockname()[:2] if sock else http
                ready(bound)

            asyncio.get_running_loop().create_task(announce())
        await server.serve()
    finally:
        if stream is not None:
            stream.close()
        if endpoint is not None:
            endpoint.close()
        service.stop()


class _WorkerRouter:
    """A SIP worker's own router, made in the worker after the fork."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.service: RouterService | None = None

    def start(self) -> None:
        self.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        self.service = RouterService(self.engine)
        self.service.start()

    def snapshot(self) -> Snapshot:
        assert self.service is not None, "start() runs first, in the worker"
        return self.service.snapshot()


def run(engine: Engine, *, sip_workers: int = 1, **kwargs: object) -> None:
    from lcr.sip.server import new_event_loop, start_sip_workers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # A reload builds the new snapshot on the router's thread, seconds of Python holding the GIL,
    # and the loop (SIP, HTTP) waits for the GIL up to the switch interval at each wake-up: 0.5 ms
    # instead of Python's 5 cuts INVITE -> 302 during a build ~8x (python -m bench.sip.busy).
    sys.setswitchinterval(0.0005)
    sip = kwargs.get("sip")
    workers = None
    if sip_workers > 1 and sip is not None:
        sip_tcp_limits()  # a bad setting fails before anything starts
        # forked before any thread, event loop or Polars pool exists in this process
        router = _WorkerRouter(engine)
        host, port = cast(tuple[str, int], sip)
        workers = start_sip_workers(host, port, router.snapshot, workers=sip_workers, init=router.start,
                                    ready_timeout=3600)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve(engine, workers=workers, **kwargs))  # type: ignore[arg-type]
    finally:
        if workers is not None:
            workers.stop()
