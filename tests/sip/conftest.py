"""Shared fixtures of the SIP tests: the redirect server on real UDP and TCP sockets, in a thread."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lcr.sip.server import SipEndpoint, new_event_loop
from lcr.sip.snapshot import RouteSnapshot
from lcr.sip.stream import SipStreamServer, open_sip_listeners
from tests.sip.world import real_snapshot


class ThreadServer:
    """``open_sip_listeners`` (UDP and TCP on one port of 127.0.0.1) in an event loop (uvloop) running
    in a thread, over the test world compiled by the real router (``lcr.routing.build_snapshot``), or
    over ``snapshot``; ``snapshot`` can be swapped (a reload). ``limits``: the TCP ones
    (``idle_timeout``, ``max_connections``), the defaults otherwise."""

    def __init__(self, snapshot: RouteSnapshot | None = None, **limits: float | None) -> None:
        self.snapshot: RouteSnapshot = snapshot if snapshot is not None else real_snapshot()
        self.loop = new_event_loop()
        self.endpoint: SipEndpoint | None = None
        self.stream: SipStreamServer | None = None
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def start() -> None:
                self.endpoint, self.stream = await open_sip_listeners(
                    "127.0.0.1", 0, lambda: self.snapshot, **limits  # type: ignore[arg-type]
                )
                started.set()

            self.loop.run_until_complete(start())
            self.loop.run_forever()
            self.loop.run_until_complete(self._close())
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10)

    async def _close(self) -> None:
        assert self.stream is not None and self.endpoint is not None
        self.stream.close()
        self.endpoint.close()
        for _ in range(200):  # the connections' transports finish closing in the next loop turns
            await asyncio.sleep(0.005)
            if not self.stream.connections:
                break

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens, over UDP and TCP alike."""
        return self.endpoint.address  # type: ignore[union-attr]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[ThreadServer]:
    s = ThreadServer()
    yield s
    s.stop()


SIPP = shutil.which("sipp") or "sipp"


def run_sipp(
    scenario: Path, address: tuple[str, int], workdir: Path, calls: int, *, transport: str = "u1"
) -> subprocess.CompletedProcess[str]:
    """sipp runs ``scenario`` ``calls`` times against ``address`` from 127.0.0.2 (no customer's source
    IP) over ``transport`` (sipp's ``-t``: ``u1`` UDP, ``t1`` one TCP connection); errors in
    ``workdir/errors.log``."""
    command = [
        SIPP, f"{address[0]}:{address[1]}", "-sf", str(scenario), "-i", "127.0.0.2", "-p", "0", "-t", transport,
        "-m", str(calls), "-r", "50", "-nostdin", "-timeout", "20", "-timeout_error",
        "-trace_err", "-error_file", str(workdir / "errors.log"),
    ]  # fmt: skip
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=60, check=False)
