"""The SIP redirect server: answers INVITEs with a 302 listing the least-cost routes.

- ``handler``: decide. ``handle_datagram(data, source, snapshot, counters) -> bytes | None``, pure.
- ``message``: the lean SIP request parser the handler uses.
- ``server``: act. asyncio (uvloop) UDP endpoint, forked workers on one shared socket, ``serve_sip``.
- ``stream``: act. SIP over TCP (RFC 3261 §18.3 framing), one protocol per connection;
  ``open_sip_listeners`` binds UDP and TCP on one port (``lcr serve``).
- ``snapshot``: the ``RouteSnapshot`` protocol the router's snapshot satisfies.
- ``counters``: named counts for ``/metrics``.
"""

from lcr.sip.counters import Counters
from lcr.sip.handler import handle_datagram
from lcr.sip.server import (
    SipEndpoint,
    SipWorkers,
    freeze_heap,
    open_sip_endpoint,
    serve_sip,
    start_sip_workers,
)
from lcr.sip.snapshot import GetSnapshot, RouteSnapshot

__all__ = [
    "Counters",
    "GetSnapshot",
    "RouteSnapshot",
    "SipEndpoint",
    "SipWorkers",
    "freeze_heap",
    "handle_datagram",
    "open_sip_endpoint",
    "serve_sip",
    "start_sip_workers",
]
