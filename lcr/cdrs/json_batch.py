"""CDRs posted as JSON (``POST /v1/cdrs``): the same checks as a canonical CSV file.

Each record's position in the batch (1-based) stands for its line number in reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import polars as pl

from lcr.cdrs.batch import TEXT_COLUMNS, CdrProblem, empty_frame, normalise


def frame_from_json(records: Sequence[Mapping[str, object]], *, source: str = "api",
                    carrier_aliases: Mapping[str, str] | None = None,
                    customer_aliases: Mapping[str, str] | None = None) -> tuple[pl.DataFrame, tuple[CdrProblem, ...]]:
    if not records:
        return empty_frame(), ()
    text = pl.DataFrame(
        {
            "line": list(range(1, len(records) + 1)),
            "raw": [json.dumps(r, sort_keys=True, default=str) for r in records],
            **{c: [None if r.get(c) is None else str(r.get(c)) for r in records] for c in TEXT_COLUMNS},
        },
        schema={"line": pl.Int64, "raw": pl.String, **dict.fromkeys(TEXT_COLUMNS, pl.String)},
    )
    batch = normalise(text, file=source, source_names={c: c for c in TEXT_COLUMNS}, local_tz="UTC",
                      carrier_aliases=carrier_aliases or {}, customer_aliases=customer_aliases or {})
    return batch.frame, batch.problems
