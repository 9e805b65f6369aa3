"""What the router answers: plain frozen values, shared by the HTTP API, the SIP server and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lcr.model import Gateway


@dataclass(frozen=True, slots=True)
class Route:
    """One carrier that may carry the call, in least-cost order within ``RouteAnswer.routes``."""

    carrier: str
    gateway: Gateway
    tech_prefix: str
    prefix: str  # the carrier's matched (longest) prefix
    rate: int  # carrier's buy rate, micro-units per minute


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one carrier was kept or dropped (``lcr route --explain``, ``explain=true``)."""

    carrier: str
    prefix: str | None  # None: no coverage
    rate: int | None
    verdict: str  # "kept" | "margin" | "blocked" | "no coverage"
    detail: str = ""


class RouteAnswer(NamedTuple):
    """The router's answer for one number.

    A named tuple rather than a frozen dataclass: one is built per query, and a tuple is built
    in one step, where a frozen slots dataclass takes one descriptor call per field (~3x the
    cost, a fifth of a customer lookup). It is as immutable, and compares by value the same.

    Routes are the snapshot's own precompiled ``Route`` values, shared by every answer; what
    depends on the customer (the margin) is asked of the answer: ``answer.margin(route)``.
    """

    number: str  # normalised number (digits only)
    prefix: str | None  # the customer's sell prefix (None without a customer)
    destination: str | None
    sell_rate: int | None  # micro-units per minute
    routes: tuple[Route, ...]
    explanation: tuple[Explanation, ...] | None = None
    refusal: Refusal | None = None  # explain() only: what lookup() raises instead (routes are then empty)

    def margin(self, route: Route) -> int | None:
        """``sell_rate - route.rate`` (micro-units per minute); None without a customer."""
        return None if self.sell_rate is None else self.sell_rate - route.rate


@dataclass(frozen=True, slots=True)
class Refusal:
    """The error ``lookup`` raises for a number that ``explain`` explains instead."""

    code: str  # the error's ``code``: "NO_ROUTE" | "BLOCKED" | "NO_CREDIT"
    http_status: int  # 404 | 403 | 402
    message: str
