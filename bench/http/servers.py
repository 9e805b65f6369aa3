"""The ASGI servers the HTTP benchmark compares, each serving one app on HOST:PORT until killed.

- ``uvicorn``: uvloop + httptools, one process, no access log, no lifespan: what ``lcr serve`` runs;
- ``uvicorn-asyncio``: the same on the stock asyncio loop (httptools still parses HTTP);
- ``granian``: Granian's embedded server (Rust HTTP/1.1 on its own runtime thread, the ASGI app on
  a uvloop event loop in the same process; "still experimental" says Granian's README: it is the
  variant that takes an app object and an existing loop, as ``lcr serve`` would need for SIP),
  ``pip install granian``;
- ``hypercorn``: Hypercorn on uvloop (pure-Python h11), ``pip install hypercorn``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

SERVERS: dict[str, Callable[[Any, str, int], None]] = {}


def server(name: str) -> Callable[[Callable[[Any, str, int], None]], Callable[[Any, str, int], None]]:
    def register(fn: Callable[[Any, str, int], None]) -> Callable[[Any, str, int], None]:
        SERVERS[name] = fn
        return fn

    return register


def _uvicorn(app: Any, host: str, port: int, loop: str) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, loop=loop, http="httptools", access_log=False,
                            lifespan="off", log_level="warning")
    uvicorn.Server(config).run()


@server("uvicorn")
def uvicorn_uvloop(app: Any, host: str, port: int) -> None:
    _uvicorn(app, host, port, "uvloop")


@server("uvicorn-asyncio")
def uvicorn_asyncio(app: Any, host: str, port: int) -> None:
    _uvicorn(app, host, port, "asyncio")


@server("granian")
def granian_embedded(app: Any, host: str, port: int) -> None:
    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    async def main() -> None:
        await Server(app, address=host, port=port, interface=Interfaces.ASGINL, http=HTTPModes.http1,
                     websockets=False, log_enabled=False, backlog=1024).serve()

    uvloop.run(main())


@server("hypercorn")
def hypercorn_uvloop(app: Any, host: str, port: int) -> None:
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.silent")
    config.errorlog.disabled = True
    config.backlog = 1024
    uvloop.run(serve(app, config, mode="asgi"))


def run(name: str, app: Any, host: str, port: int) -> None:
    asyncio.set_event_loop(None)
    SERVERS[name](app, host, port)
