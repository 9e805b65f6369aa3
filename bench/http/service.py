"""A ``RouterService`` stand-in for the HTTP benchmark: one prebuilt snapshot, no store, no thread.

``create_app`` reads ``snapshot()``, ``inputs`` (the ``at=`` path), ``version``, ``reloads`` and
``last_build_seconds`` (``/healthz``, ``/metrics``) and ``engine`` (endpoints that write); the
benchmark only calls ``/ping`` and ``/v1/routes``, so ``engine`` is None.
"""

from __future__ import annotations

from lcr.routing import Snapshot
from lcr.routing.inputs import RoutingInputs


class PrebuiltService:
    def __init__(self, inputs: RoutingInputs, snapshot: Snapshot, build_seconds: float = 0.0) -> None:
        self.inputs = inputs
        self._snapshot = snapshot
        self.version = 1
        self.reloads = 0
        self.last_build_seconds = build_seconds
        self.engine = None

    def snapshot(self) -> Snapshot:
        return self._snapshot
