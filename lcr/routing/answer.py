"""What the router answers: plain frozen values, shared by the HTTP API, the SIP server and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from lcr.model import Gateway


@dataclass(frozen=True, slots=True)
class Route:
    """One carrier that may carry the call, in least-cost order within ``RouteAnswer.routes``."""

    carrier: str
    gateway: Gateway
    tech_prefix: str
    prefix: str  # the carrier's matched (longest) prefix
    rate: int  # carrier's buy rate, micro-units per minute
    margin: int | None  # sell_rate - rate (micro-units per minute); None without a customer


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one carrier was kept or dropped (``lcr route --explain``, ``explain=true``)."""

    carrier: str
    prefix: str | None  # None: no coverage
    rate: int | None
    verdict: str  # "kept" | "margin" | "blocked" | "no coverage"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    number: str  # normalised number (digits only)
    prefix: str | None  # the customer's sell prefix (None without a customer)
    destination: str | None
    sell_rate: int | None  # micro-units per minute
    routes: tuple[Route, ...]
    explanation: tuple[Explanation, ...] | None = None
    refusal: Refusal | None = None  # explain() only: what lookup() raises instead (routes are then empty)


@dataclass(frozen=True, slots=True)
class Refusal:
    """The error ``lookup`` raises for a number that ``explain`` explains instead."""

    code: str  # the error's ``code``: "NO_ROUTE" | "BLOCKED" | "NO_CREDIT"
    http_status: int  # 404 | 403 | 402
    message: str
