"""Deck import: read a file, plan its change against the owner's live rates, write it atomically.

Order of work, so that a rejected deck writes nothing at all (the database file stays
byte-for-byte the same): read and validate the whole file first (no transaction), then plan
inside the write transaction, then write the import record, the closes and the inserts, and
bump the store version, all in one commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, insert, select

from lcr.decks import read_deck
from lcr.decks.plan import CHANGE_KINDS, DeckPlan, NoticePolicy, plan_deck
from lcr.errors import InputError
from lcr.model import OwnerKind
from lcr.money import format_micro
from lcr.store.db import bump_version, writing
from lcr.store.parties import notice_days, owner_id
from lcr.store.rates import load_versions, write_plan
from lcr.store.schema import carriers, customers, deck_imports


@dataclass
class ImportReport:
    file: str
    owner_kind: str
    owner: str
    status: str  # "imported" | "dry-run" | "already imported"
    import_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    changes: pl.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    layout: str = ""
    currency: str | None = None
    mode: str = "full"
    received: str = ""

    def to_json(self, *, rows: bool = True) -> dict[str, object]:
        doc: dict[str, object] = {
            "file": self.file,
            self.owner_kind: self.owner,
            "status": self.status,
            "import_id": self.import_id,
            "mode": self.mode,
            "received": self.received,
            "currency": self.currency,
            "layout": self.layout,
            "counts": self.counts,
            "warnings": self.warnings,
        }
        if rows and self.changes is not None:
            doc["changes"] = [
                {
                    "prefix": p,
                    "destination": d,
                    "change": c,
                    "old_rate": None if o is None else format_micro(o),
                    "new_rate": None if n is None else format_micro(n),
                    "effective_from": _iso(e),
                }
                for p, d, c, o, n, e in self.changes.sort("change", "prefix").iter_rows()
            ]
        return doc

    def to_text(self, *, rows: bool = False, limit: int = 200) -> str:
        head = {
            "imported": f"imported {self.file} into {self.owner_kind} {self.owner} as import #{self.import_id}",
            "dry-run": f"dry run of {self.file} for {self.owner_kind} {self.owner}: nothing written",
            "already imported": (
                f"{self.file}: this file was already imported for {self.owner_kind} {self.owner} "
                f"as import #{self.import_id}; nothing changed"
            ),
        }[self.status]
        out = [head]
        if self.layout:
            out.append(f"  layout: {self.layout}")
        if self.counts:
            out.append(f"  mode {self.mode}, received {self.received}, currency {self.currency or 'unknown'}")
            out.append("  " + "  ".join(f"{k}: {self.counts.get(k, 0)}" for k in CHANGE_KINDS))
        out.extend(f"  warning: {w}" for w in self.warnings)
        if rows and self.changes is not None and not self.changes.is_empty():
            shown = self.changes.filter(pl.col("change") != "Unchanged").sort("change", "prefix")
            out.append(f"  {'change':<9} {'prefix':<16} {'old rate':>10} {'new rate':>10}  "
                       f"{'effective':<17} destination")
            for p, d, c, o, n, e in shown.head(limit).iter_rows():
                old = "" if o is None else format_micro(o)
                new = "" if n is None else format_micro(n)
                out.append(f"  {c:<9} {p:<16} {old:>10} {new:>10}  {_iso(e):<17} {d}")
            if shown.height > limit:
                out.append(f"  ... {shown.height - limit} more changed rows (use --json for all)")
        return "\n".join(out)


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_received(text: str | None) -> int:
    """``YYYY-MM-DD`` (UTC midnight); default today, UTC."""
    if text is None:
        today = dt.datetime.now(dt.UTC).date()
        return int(dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp())
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--received {text!r} is not a date (YYYY-MM-DD)") from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def import_deck(
    engine: Engine,
    path: str | Path,
    *,
    kind: OwnerKind,
    owner: str,
    profile: str | None = None,
    profiles_dir: Path | None = None,
    mode: str = "full",
    received: int | None = None,
    dry_run: bool = False,
    policy: NoticePolicy = NoticePolicy.WARN,
) -> ImportReport:
    path = Path(path)
    if mode not in ("full", "delta"):
        raise InputError(f"--mode {mode!r} must be full or delta")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from None
    digest = hashlib.sha256(content).hexdigest()
    received_ts = parse_received(None) if received is None else received
    report = ImportReport(path.name, kind.value, owner, "dry-run" if dry_run else "imported", mode=mode,
                          received=_iso(received_ts)[:10])  # type: ignore[index]

    with engine.connect() as conn:
        oid = owner_id(conn, kind, owner)
        previous = conn.execute(
            select(deck_imports.c.id).where(
                deck_imports.c.owner_kind == kind.value,
                deck_imports.c.owner_id == oid,
                deck_imports.c.content_hash == digest,
            ).order_by(deck_imports.c.id)
        ).first()
    if previous is not None and not dry_run:
        report.status, report.import_id = "already imported", int(previous[0])
        return report

    parsed = read_deck(path, profile=profile, profiles_dir=profiles_dir)
    report.layout, report.currency = parsed.layout, parsed.currency
    report.warnings.extend(parsed.warnings)
    _check_currency(engine, kind, owner, parsed.currency, report)

    if dry_run:
        with engine.connect() as conn:
            plan = _plan(conn, parsed.frame, path.name, kind, owner, oid, mode, received_ts, policy)
        return _fill(report, plan)

    with writing(engine) as conn:
        plan = _plan(conn, parsed.frame, path.name, kind, owner, oid, mode, received_ts, policy)
        _fill(report, plan)
        report.import_id = int(
            conn.execute(
                insert(deck_imports).values(
                    owner_kind=kind.value,
                    owner_id=oid,
                    file_name=path.name,
                    content_hash=digest,
                    received=received_ts,
                    mode=mode,
                    profile=profile,
                    currency=parsed.currency,
                    summary=json.dumps(report.counts),
                    warnings=json.dumps(report.warnings),
                    created_at=int(time.time()),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        write_plan(conn, kind, oid, report.import_id, plan)
        bump_version(conn)
    return report


def _plan(conn, frame, file, kind, owner, oid, mode, received, policy) -> DeckPlan:
    live = load_versions(conn, kind, oid)
    return plan_deck(frame, live, file=file, mode=mode, received=received,
                     notice_days=notice_days(conn, kind, owner), policy=policy)


def _fill(report: ImportReport, plan: DeckPlan) -> ImportReport:
    report.counts = plan.counts()
    report.changes = plan.changes
    report.warnings.extend(plan.warnings)
    return report


def _check_currency(engine: Engine, kind: OwnerKind, owner: str, currency: str | None, report: ImportReport) -> None:
    """A customer's sell deck in another currency than the customer's is refused; unknown is noted."""
    if kind is not OwnerKind.CUSTOMER or currency is None:
        return
    with engine.connect() as conn:
        own = conn.execute(select(customers.c.currency).where(customers.c.name == owner)).scalar_one()
    if own != currency:
        raise InputError(f"{report.file}: the deck is in {currency} but customer {owner!r} is billed in {own}")


__all__ = ["ImportReport", "carriers", "import_deck", "parse_received"]
