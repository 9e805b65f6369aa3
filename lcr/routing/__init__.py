"""Deciding routes: rate decks compiled into an immutable snapshot, queried without I/O.

Pure: this package imports no database, web, socket or asyncio code (a test checks it).

- ``inputs``: ``RoutingInputs``, what a snapshot is built from;
- ``number``: normalisation of dialled numbers;
- ``compile``: the vectorised build of the lookup tables;
- ``snapshot``: ``Snapshot`` (``lookup``, ``explain``, ``with_credit``, customer identification),
  ``build_snapshot``, and ``lookup_at`` / ``explain_at`` for any other instant;
- ``advance``: ``advance_snapshot``, a snapshot moved to a later instant by patching (timed switches);
- ``reference``: the brute-force statement of the routing rules the tests compare against;
- ``answer``: the values returned (``RouteAnswer``, ``Route``, ``Explanation``).
"""

from lcr.routing.answer import Explanation, Route, RouteAnswer
from lcr.routing.inputs import RoutingInputs
from lcr.routing.number import normalise
from lcr.routing.snapshot import Snapshot, build_snapshot, explain_at, lookup_at

__all__ = [
    "Explanation",
    "Route",
    "RouteAnswer",
    "RoutingInputs",
    "Snapshot",
    "build_snapshot",
    "explain_at",
    "lookup_at",
    "normalise",
]
