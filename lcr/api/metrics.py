"""Counters for ``/metrics`` (Prometheus text exposition format)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any


class Metrics:
    def __init__(self) -> None:
        self.routes: Counter[str] = Counter()
        # extra sources (e.g. the SIP server's counters): name -> callable returning {label: value}
        self.sources: dict[str, Callable[[], dict[str, int]]] = {}

    def count_route(self, result: str) -> None:
        self.routes[result] += 1

    def render(self, service: Any) -> str:
        out = [
            "# HELP lcr_route_lookups_total HTTP route lookups by result code.",
            "# TYPE lcr_route_lookups_total counter",
        ]
        out += [f'lcr_route_lookups_total{{result="{k}"}} {v}' for k, v in sorted(self.routes.items())]
        snap = service.snapshot()
        out += [
            "# HELP lcr_store_version Version of the rate store the router serves.",
            "# TYPE lcr_store_version gauge",
            f"lcr_store_version {service.version}",
            "# HELP lcr_router_reloads_total Snapshots rebuilt after a store change.",
            "# TYPE lcr_router_reloads_total counter",
            f"lcr_router_reloads_total {service.reloads}",
            "# HELP lcr_snapshot_build_seconds Duration of the last snapshot build.",
            "# TYPE lcr_snapshot_build_seconds gauge",
            f"lcr_snapshot_build_seconds {service.last_build_seconds:.3f}",
            "# HELP lcr_router_reload_seconds Seconds of the last reload (reading the store, patching or building).",
            "# TYPE lcr_router_reload_seconds gauge",
            f"lcr_router_reload_seconds {service.last_reload_seconds:.3f}",
            "# HELP lcr_snapshot_advance_seconds Duration of the last timed switch's patch of the snapshot.",
            "# TYPE lcr_snapshot_advance_seconds gauge",
            f"lcr_snapshot_advance_seconds {service.last_advance_seconds:.3f}",
            "# HELP lcr_snapshot_at Instant (epoch seconds) the served snapshot was built for.",
            "# TYPE lcr_snapshot_at gauge",
            f"lcr_snapshot_at {snap.at}",
        ]
        for name, source in sorted(self.sources.items()):
            out += [f"# HELP {name} {name}", f"# TYPE {name} counter"]
            out += [f'{name}{{kind="{k}"}} {v}' for k, v in sorted(source().items())]
        return "\n".join(out) + "\n"
