"""What the SIP server needs from the router: three questions about one immutable route snapshot.

The SIP package programs against this ``Protocol`` and never imports the router's internals;
``lcr.routing``'s ``Snapshot`` satisfies it, and so do small in-test fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from lcr.routing.answer import RouteAnswer


@runtime_checkable
class RouteSnapshot(Protocol):
    def lookup(self, number: str, customer: str | None = None) -> RouteAnswer:
        """Routes for ``number`` as received (the router normalises tech prefix, ``+``, ``00``, ``011``).

        The routes are the snapshot's precompiled ``Route`` values, shared between answers.

        Raises ``lcr.errors.MalformedNumber`` (400), ``NoRoute`` (404), ``BlockedDestination`` (403),
        ``InsufficientCredit`` (402), ``NotFound`` (unknown customer).
        """
        ...

    def customer_by_source_ip(self, ip: str) -> str | None: ...

    def customer_by_tech_prefix(self, user: str) -> str | None: ...


#: How the server reaches the current snapshot: called once per datagram, so a reload that swaps
#: the snapshot reaches the next INVITE without a restart.
GetSnapshot = Callable[[], RouteSnapshot]
