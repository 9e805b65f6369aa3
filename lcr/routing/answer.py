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
    cost, a fifth of a customer lookup). It is as immutable.

    Routes are the snapshot's own precompiled ``Route`` values, shared by every answer. The
    lookup does not copy them: it answers with the prefix's whole precompiled list (``listed``,
    every covering carrier, least cost first) and how many of its first routes pass the
    customer's margin (``kept``; None: all). ``routes`` is that cut, made when it is read: a copy
    takes a reference to each kept ``Route``, one cache miss per carrier, which a consumer that
    needs only the list's identity (the SIP server's memo of 302 tails) never pays. Answers compare
    (and hash) by what they mean, ``routes`` included, not by how the cut is held. What depends
    on the customer (the margin) is asked of the answer: ``answer.margin(route)``.
    """

    number: str  # normalised number (digits only)
    prefix: str | None  # the customer's sell prefix (None without a customer)
    destination: str | None
    sell_rate: int | None  # micro-units per minute
    listed: tuple[Route, ...]  # the precompiled list the routes are the start of
    kept: int | None = None  # how many of ``listed`` are routes; None: all of them
    explanation: tuple[Explanation, ...] | None = None
    refusal: Refusal | None = None  # explain() only: what lookup() raises instead (routes are then empty)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The carriers that may carry the call, least cost first."""
        kept = self.kept
        return self.listed if kept is None else self.listed[:kept]

    def margin(self, route: Route) -> int | None:
        """``sell_rate - route.rate`` (micro-units per minute); None without a customer."""
        return None if self.sell_rate is None else self.sell_rate - route.rate

    def _meaning(self) -> tuple[object, ...]:
        return (self.number, self.prefix, self.destination, self.sell_rate, self.routes, self.explanation, self.refusal)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RouteAnswer) and self._meaning() == other._meaning()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._meaning())


@dataclass(frozen=True, slots=True)
class Refusal:
    """The error ``lookup`` raises for a number that ``explain`` explains instead."""

    code: str  # the error's ``code``: "NO_ROUTE" | "BLOCKED" | "NO_CREDIT"
    http_status: int  # 404 | 403 | 402
    message: str
