"""Date-times of CDR files: the canonical ``...Z`` shortcut agrees with the general parser."""

from __future__ import annotations

import polars as pl

from lcr.cdrs.times import _parse_shapes, parse_instants

CELLS = [
    "2026-11-03T10:00:00Z",  # the canonical shape: the shortcut
    "2026-11-03T10:00:00z",  # lower-case z: general parser
    "2026-13-03T10:00:00Z",  # no month 13: null either way
    "2026-11-3T10:00:00Z",  # a one-digit day is not accepted
    "2026-11-03 10:00:00Z",  # a space for the T
    "2026-11-03T10:00:00+01:30",  # an offset
    "2026-11-03T10:00:00.250Z",  # a fraction, dropped
    "2026-11-03T10:00",  # no seconds
    " 2026-11-03T10:00:00Z ",  # stray spaces
    "",  # empty: null
    None,
    "soon",
]


def test_the_shortcut_agrees_with_the_general_parser() -> None:
    cells = pl.Series("t", CELLS, dtype=pl.String)
    for zone in ("UTC", "Europe/Paris"):
        assert parse_instants(cells, zone).to_list() == _parse_shapes(cells, zone).to_list()
    assert parse_instants(cells).to_list()[:4] == [1_793_700_000, 1_793_700_000, None, None]
