"""Re-rating after a deck correction: one net ledger entry per customer, never a double charge."""

from __future__ import annotations

from pathlib import Path

from lcr.model import OwnerKind
from lcr.store.cdrs import import_cdr_file
from lcr.store.imports import import_deck, parse_received
from lcr.store.ledger import balance_of, ledger_sum
from lcr.store.rerate import margin_report, rerate
from tests.store.helpers import import_size  # noqa: F401  (autouse: small and bulk imports)
from tests.world import load_sample_world

NOV = (parse_received("2026-11-01"), parse_received("2026-12-01"))


def test_rerate_applies_the_correction_once(engine, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    import_cdr_file(engine, shared_data / "cdrs" / "canonical_cdrs.csv")
    with engine.connect() as conn:
        before = balance_of(conn, "globex").balance
    assert rerate(engine, *NOV).changed == 0  # nothing changed in the decks: nothing to do
    fix = tmp_path / "globex_fix.csv"
    fix.write_text("prefix,destination,rate,effective_date,first_interval,next_interval\n"
                   "4915,Germany Mobile,0.07,2026-11-01,60,1\n")
    import_deck(engine, fix, kind=OwnerKind.CUSTOMER, owner="globex", mode="delta", received=NOV[0])
    report = rerate(engine, *NOV, customer="globex")
    assert report.changed == 2 and report.delta == {"globex": 20_000}  # c-0001 and c-0007: 0.06 -> 0.07
    with engine.connect() as conn:
        assert balance_of(conn, "globex").balance == before - 20_000
        assert ledger_sum(conn, "globex") == before - 20_000
    again = rerate(engine, *NOV)
    assert again.changed == 0 and again.delta == {}
    with engine.connect() as conn:
        assert balance_of(conn, "globex").balance == before - 20_000


def test_margin_report(engine, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    load_sample_world(engine)
    import_cdr_file(engine, shared_data / "cdrs" / "canonical_cdrs.csv")
    rows = {(r["carrier"], r["destination"]): r for r in margin_report(engine, *NOV)}
    nigeria = rows[("acme", "Nigeria Mobile")]
    # sell 0.43 (180 s at 0.14 + 0.01 fee); acme buys 234803 at 0.1123 (60/60): 180 s -> 0.3369
    assert (nigeria["calls"], nigeria["sell"], nigeria["cost"], nigeria["margin"]) == (1, "0.43", "0.3369", "0.0931")
    assert rows[("acme", "Germany Mobile")]["calls"] == 2
