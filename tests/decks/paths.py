"""Where the tests of ``lcr.decks`` find the shared sample data and the repository's profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # /work/main
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()  # /work/shared/data
DECKS = SHARED_DATA / "decks"
PROFILES = REPO / "ratedecks" / "profiles"


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Epoch seconds of a UTC instant."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())
