"""Pricing calls: pure functions over plain values and Polars frames (no database, web, I/O).

- ``reference.rate_call``: one call, plain Python, obviously correct (the rules are there);
- ``batch.rate_batch``: millions of calls at once, vectorised, equal to ``rate_call``;
- ``deck.compile_deck``: the rate frames indexed once for ``batch.rate_compiled``;
- ``reasons``: why a side of a call is unrated.
"""

from lcr.rating import reasons
from lcr.rating.batch import OUTPUT_COLUMNS, rate_batch, rate_compiled
from lcr.rating.deck import OWNED_RATE_SCHEMA, RATE_SCHEMA, CompiledDeck, compile_deck
from lcr.rating.reference import (
    RatedCall,
    SideRating,
    billed_seconds,
    call_amount,
    normalise_number,
    rate_call,
    rate_in_force,
    rates_by_owner,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "OWNED_RATE_SCHEMA",
    "RATE_SCHEMA",
    "CompiledDeck",
    "RatedCall",
    "SideRating",
    "billed_seconds",
    "call_amount",
    "compile_deck",
    "normalise_number",
    "rate_batch",
    "rate_call",
    "rate_compiled",
    "rate_in_force",
    "rates_by_owner",
    "reasons",
]
