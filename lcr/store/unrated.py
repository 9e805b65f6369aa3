"""What billing must look at: calls stored without a sell charge, and quarantined lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from lcr.store.schema import cdr_quarantine, cdrs
from lcr.timeutil import iso


def unrated_listing(engine: Engine, limit: int = 100) -> dict[str, Any]:
    unrated = cdrs.c.sell_amount.is_(None)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).where(unrated)).scalar_one())
        calls = conn.execute(
            select(cdrs.c.call_id, cdrs.c.customer, cdrs.c.carrier, cdrs.c.dst, cdrs.c.start_time, cdrs.c.sell_reason,
                   cdrs.c.buy_reason).where(unrated).order_by(cdrs.c.start_time, cdrs.c.call_id).limit(limit)
        ).all()
        quarantined_total = int(conn.execute(select(func.count()).select_from(cdr_quarantine)).scalar_one())
        quarantined = conn.execute(
            select(cdr_quarantine.c.source, cdr_quarantine.c.line, cdr_quarantine.c.reason, cdr_quarantine.c.raw)
            .order_by(cdr_quarantine.c.id).limit(limit)
        ).all()
    return {
        "unrated_total": total,
        "calls": [{"call_id": c, "customer": cu, "carrier": ca, "dst": d, "start_time": iso(t), "reason": r,
                   "buy_reason": br} for c, cu, ca, d, t, r, br in calls],
        "quarantined_total": quarantined_total,
        "quarantined": [{"source": s, "line": ln, "reason": r, "raw": raw} for s, ln, r, raw in quarantined],
    }
