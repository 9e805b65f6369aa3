"""Plain values shared by the core packages (routing, rating) and the edges.

Money is integer micro-units (see ``lcr.money``); instants are integer seconds since the Unix
epoch, UTC; an open end is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl


class OwnerKind(StrEnum):
    CARRIER = "carrier"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class Rate:
    """One version of one code of one owner's deck, in force on ``[effective_from, effective_to)``."""

    prefix: str
    destination: str
    rate: int  # micro-units per minute
    effective_from: int
    effective_to: int | None = None
    first_interval: int = 1
    next_interval: int = 1
    connect_fee: int = 0  # micro-units per call
    blocked: bool = False

    def in_force(self, at: int) -> bool:
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)


#: The columns of a frame of ``Rate`` versions and their types, declared once: the router reads
#: the first six (``lcr.routing.inputs.RATE_SCHEMA``), the rating compiler all of them, the
#: deck planner all of them (a null ``effective_to`` is open).
RATE_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "prefix": pl.String(),
    "destination": pl.String(),
    "rate": pl.Int64(),
    "effective_from": pl.Int64(),
    "effective_to": pl.Int64(),
    "blocked": pl.Boolean(),
    "first_interval": pl.Int32(),
    "next_interval": pl.Int32(),
    "connect_fee": pl.Int64(),
}


@dataclass(frozen=True, slots=True)
class Gateway:
    host: str
    port: int = 5060

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" if self.port != 5060 else self.host

    @classmethod
    def parse(cls, text: str) -> Gateway:
        """``HOST``, ``HOST:PORT`` or ``[IPv6]:PORT``; the default port is 5060."""
        t = text.strip()
        host, port = t, "5060"
        if t.startswith("["):
            end = t.find("]")
            host, rest = t[: end + 1], t[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{text!r} is not HOST[:PORT]")
                port = rest[1:]
        elif t.count(":") == 1:
            host, port = t.split(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r} is not HOST[:PORT]")
        return cls(host, int(port))


@dataclass(frozen=True, slots=True)
class Carrier:
    name: str
    gateways: tuple[Gateway, ...]
    tech_prefix: str = ""
    notice_days: int = 7


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    prepaid: bool = False
    credit_limit: int | None = None  # micro-units; None = no limit (postpaid only)
    source_ips: tuple[str, ...] = ()
    tech_prefix: str = ""
    min_margin: str = "0"  # percent, decimal string
    timezone: str = "UTC"
    currency: str = "USD"
    low_balance_threshold: int | None = None
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class CreditState:
    """A customer's money position, as routing needs it."""

    balance: int  # micro-units: payments - charges
    credit_limit: int | None
    prepaid: bool

    @property
    def available(self) -> int | None:
        """None = unlimited."""
        if self.prepaid:
            return self.balance
        if self.credit_limit is None:
            return None
        return self.balance + self.credit_limit

    @property
    def refused(self) -> bool:
        avail = self.available
        return avail is not None and avail <= 0


@dataclass(frozen=True, slots=True)
class Cdr:
    call_id: str
    customer: str | None
    carrier: str | None
    src: str
    dst: str
    start_time: int
    answer_time: int | None
    end_time: int | None
    billsec: int
    disposition: str
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Charge:
    """What one call costs one side."""

    call_id: str
    prefix: str
    destination: str
    rate: int
    billed_seconds: int
    amount: int  # micro-units
