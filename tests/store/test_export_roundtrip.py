"""Export then re-import into a fresh store gives the same rates in force (Hypothesis)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcr.model import Carrier, Gateway, OwnerKind
from lcr.store.db import open_store, writing
from lcr.store.export import export_deck
from lcr.store.imports import import_deck
from lcr.store.parties import add_carrier, owner_id
from lcr.store.rates import load_versions

T0 = int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp())
DAY = 86_400

row = st.tuples(
    st.text("0123456789", min_size=1, max_size=8).filter(lambda p: not p.startswith("00")),
    st.integers(0, 5_000_000),  # rate, micro-units
    st.integers(0, 30),  # effective day offset
    st.sampled_from([(1, 1), (60, 60), (60, 1), (30, 6), (6, 6)]),
    st.integers(0, 50_000),  # connect fee
    st.sampled_from(["", "Blocked"]),
    st.text("abcdefghij XYZ-", max_size=12),
)


def micro_text(m: int) -> str:
    return f"{m // 1_000_000}.{m % 1_000_000:06d}"


def write(path: Path, rows: list) -> None:  # type: ignore[type-arg]
    lines = ["prefix,destination,rate,effective_date,first_interval,next_interval,connect_fee,change"]
    for prefix, rate, day, (first, nxt), fee, change, dest in rows:
        eff = dt.datetime.fromtimestamp(T0 + day * DAY, dt.UTC).strftime("%Y-%m-%d")
        lines.append(f"{prefix},{dest.strip()},{micro_text(rate)},{eff},{first},{nxt},{micro_text(fee)},{change}")
    path.write_text("\n".join(lines) + "\n")


_TEMPLATE = Path(tempfile.mkdtemp(prefix="lcr-roundtrip-")) / "template.sqlite"


def fresh_store(tmp: Path, name: str):  # type: ignore[no-untyped-def]
    """A migrated store with carrier acme: copied from a template made once (migrations are slow)."""
    if not _TEMPLATE.exists():
        engine = open_store(f"sqlite:///{_TEMPLATE}")
        with writing(engine) as conn:
            add_carrier(conn, Carrier("acme", (Gateway("192.0.2.1"),)))
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
    shutil.copyfile(_TEMPLATE, tmp / name)
    return open_store(f"sqlite:///{tmp / name}")


def in_force(engine, at: int) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    with engine.connect() as conn:
        frame = load_versions(conn, OwnerKind.CARRIER, owner_id(conn, OwnerKind.CARRIER, "acme"), at=at)
    return sorted(frame.drop("id").rows())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=30, unique_by=lambda r: r[0]), at_day=st.integers(0, 40))
def test_export_reimport_round_trip(rows, at_day) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        deck = tmp / "deck.csv"
        write(deck, rows)
        a = fresh_store(tmp, "a.sqlite")
        import_deck(a, deck, kind=OwnerKind.CARRIER, owner="acme", received=T0)
        at = T0 + at_day * DAY
        exported = tmp / "export.csv"
        exported.write_text(export_deck(a, OwnerKind.CARRIER, "acme", at))
        if not in_force(a, at):
            # nothing in force: the export is a header only, which an import rightly rejects
            assert exported.read_text().count("\n") == 1
            a.dispose()
            return
        b = fresh_store(tmp, "b.sqlite")
        import_deck(b, exported, kind=OwnerKind.CARRIER, owner="acme", received=T0)
        assert in_force(b, at) == in_force(a, at)
        # and the export of the copy is the same document
        assert export_deck(b, OwnerKind.CARRIER, "acme", at) == exported.read_text()
        a.dispose()
        b.dispose()
