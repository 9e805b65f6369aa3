"""The deck import history, for the API and the rate desk."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from lcr.store.schema import carriers, customers, deck_imports
from lcr.timeutil import iso


def import_history(engine: Engine, limit: int = 50) -> list[dict[str, object]]:
    with engine.connect() as conn:
        carrier_names = dict(conn.execute(select(carriers.c.id, carriers.c.name)).all())
        customer_names = dict(conn.execute(select(customers.c.id, customers.c.name)).all())
        rows = conn.execute(select(deck_imports).order_by(deck_imports.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        names = carrier_names if r["owner_kind"] == "carrier" else customer_names
        out.append({
            "id": r["id"], r["owner_kind"]: names.get(r["owner_id"]), "file": r["file_name"],
            "sha256": r["content_hash"], "received": iso(r["received"]), "mode": r["mode"],
            "profile": r["profile"], "currency": r["currency"], "counts": json.loads(r["summary"]),
            "warnings": json.loads(r["warnings"]), "imported_at": iso(r["created_at"]),
        })
    return out
