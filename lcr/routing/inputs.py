"""What the router is built from: parties, every version of every rate deck, credit states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from lcr.model import RATE_FRAME_SCHEMA, Carrier, CreditState, Customer

#: The columns the router reads from a rates frame, with their types (others are ignored).
RATE_SCHEMA: dict[str, pl.DataType] = {
    c: RATE_FRAME_SCHEMA[c] for c in ("prefix", "destination", "rate", "effective_from", "effective_to", "blocked")
}


@dataclass(frozen=True)
class RoutingInputs:
    """Everything a route snapshot is compiled from.

    Each rates frame holds ALL versions of its owner's codes (past, present, future), with the
    columns of ``RATE_SCHEMA``: ``prefix`` (digits), ``destination``, ``rate`` (micro-units per
    minute), ``effective_from`` / ``effective_to`` (epoch seconds UTC, ``effective_to``
    exclusive, null = open) and ``blocked``. Versions of one (owner, prefix) never overlap.
    A customer missing from ``credit`` has unlimited credit; a customer missing from
    ``customer_rates`` sells nothing; a carrier missing from ``carrier_rates`` covers nothing.
    """

    carriers: tuple[Carrier, ...]
    customers: tuple[Customer, ...]
    carrier_rates: Mapping[str, pl.DataFrame]  # by carrier name
    customer_rates: Mapping[str, pl.DataFrame]  # by customer name (the customer's sell deck)
    credit: Mapping[str, CreditState]  # by customer name; missing = unlimited


def rate_columns(frame: pl.DataFrame) -> pl.LazyFrame:
    """The router's columns of ``frame``, cast to ``RATE_SCHEMA`` (a null ``blocked`` is False)."""
    return frame.lazy().select(
        pl.col(name).cast(dtype).fill_null(False) if name == "blocked" else pl.col(name).cast(dtype)
        for name, dtype in RATE_SCHEMA.items()
    )


def in_force(at: int) -> pl.Expr:
    """Rows in force at ``at``: ``effective_from <= at < effective_to`` (null = open)."""
    return (pl.col("effective_from") <= at) & (
        pl.col("effective_to").is_null() | (pl.col("effective_to") > at)
    )


def next_change(frames: Iterable[pl.DataFrame], at: int) -> int | None:
    """The first instant after ``at`` at which a version of any frame starts or ends (None: never)."""
    lazy = [
        rate_columns(f).select(
            pl.col("effective_from").filter(pl.col("effective_from") > at).min().alias("a"),
            pl.col("effective_to").filter(pl.col("effective_to") > at).min().alias("b"),
        )
        for f in frames
    ]
    if not lazy:
        return None
    row = pl.concat(lazy).select(pl.min_horizontal(pl.col("a").min(), pl.col("b").min())).collect().item()
    return None if row is None else int(row)
