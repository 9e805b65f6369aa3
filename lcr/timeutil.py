"""Instants at the edges: ISO 8601 text <-> integer epoch seconds (UTC unless an offset is given)."""

from __future__ import annotations

import datetime as dt
import time

from lcr.errors import InputError


def parse_instant(text: str | None, what: str = "time", *, now: int | None = None) -> int:
    """``2026-11-03``, ``2026-11-03T10:00:00Z``, ``...+01:00``; naive = UTC; None = now."""
    if text is None or text == "":
        return int(time.time()) if now is None else now
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise InputError(f"{what} {text!r} is not an ISO 8601 date or time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_or_day(ts: int) -> str:
    """``YYYY-MM-DD`` for a UTC midnight, else a full ISO 8601 UTC time."""
    value = dt.datetime.fromtimestamp(ts, dt.UTC)
    if value.hour == value.minute == value.second == 0:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
