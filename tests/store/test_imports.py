"""Deck import into the store, on SQLite and PostgreSQL: versions, idempotency, atomicity, modes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lcr.errors import DeckRejected, NotFound
from lcr.model import Carrier, Customer, Gateway, OwnerKind
from lcr.store.db import store_version, writing
from lcr.store.imports import import_deck, parse_received
from lcr.store.parties import add_carrier, add_customer, owner_id
from lcr.store.rates import load_versions
from tests.store.helpers import sqlite_files_digest, table_dump

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "ratedecks" / "profiles"
CARRIERS = ("acme", "borealis", "centauri", "delta", "orion")


def ts(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp())


@pytest.fixture
def world(engine):  # type: ignore[no-untyped-def]
    with writing(engine) as conn:
        for name in CARRIERS:
            add_carrier(conn, Carrier(name, (Gateway("192.0.2.1"),)))
        add_customer(conn, Customer("globex", credit_limit=500_000_000))
    return engine


def in_force(engine, kind: OwnerKind, owner: str, at: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        frame = load_versions(conn, kind, owner_id(conn, kind, owner), at=ts(at))
    return dict(frame.select("prefix", "rate").iter_rows())


SAMPLES = [
    # (file, owner kind, owner, profile)
    ("acme_notice.csv", OwnerKind.CARRIER, "acme", None),
    ("borealis_rates.csv", OwnerKind.CARRIER, "borealis", None),
    ("centauri_semicolon.csv", OwnerKind.CARRIER, "centauri", None),
    ("delta_npanxx.csv", OwnerKind.CARRIER, "delta", "delta_npanxx"),
    ("orion_rates.xlsx", OwnerKind.CARRIER, "orion", None),
    ("globex_sell.csv", OwnerKind.CUSTOMER, "globex", None),
]


def test_all_six_sample_decks_import(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    for file, kind, owner, profile in SAMPLES:
        report = import_deck(world, shared_data / "decks" / file, kind=kind, owner=owner, profile=profile,
                             profiles_dir=PROFILES, received=ts("2026-11-02"))
        assert report.status == "imported", file
        assert report.counts["New"] > 0, file
    # what a person reads in the files, in force on 2026-11-23
    acme = in_force(world, OwnerKind.CARRIER, "acme", "2026-11-23")
    assert acme["49172"] == acme["49174"] == 49_500  # range 49172-49174 at 0.0495
    assert acme["33607"] == 52_000  # "336 07"
    assert acme["521"] == 15_100  # "+521"
    assert "234805" not in acme  # Closed on 09/11/2026
    # a Closed row ends what was in force; on a fresh store nothing was, so nothing is written
    assert "234805" not in in_force(world, OwnerKind.CARRIER, "acme", "2026-11-05")
    borealis = in_force(world, OwnerKind.CARRIER, "borealis", "2026-11-23")
    assert borealis["2348"] == 115_000  # no dates: in force from the received day
    assert in_force(world, OwnerKind.CARRIER, "borealis", "2026-11-01") == {}
    centauri = in_force(world, OwnerKind.CARRIER, "centauri", "2026-11-23")
    assert centauri["4915"] == 45_500  # "0,0455"
    assert "4917" not in in_force(world, OwnerKind.CARRIER, "centauri", "2026-11-14")  # valid from 15.11.2026
    assert in_force(world, OwnerKind.CARRIER, "delta", "2026-11-23")["1201531"] == 8_700  # interrate
    orion = in_force(world, OwnerKind.CARRIER, "orion", "2026-11-23")
    assert orion["49151"] == 47_100 and orion["49"] == 8_100 and orion["521"] == 15_500
    assert in_force(world, OwnerKind.CUSTOMER, "globex", "2026-11-23")["2348"] == 140_000


def test_same_file_twice_changes_nothing_and_says_so(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    path = shared_data / "decks" / "globex_sell.csv"
    first = import_deck(world, path, kind=OwnerKind.CUSTOMER, owner="globex", received=ts("2026-11-01"))
    before = table_dump(world)
    second = import_deck(world, path, kind=OwnerKind.CUSTOMER, owner="globex", received=ts("2026-11-01"))
    assert second.status == "already imported" and second.import_id == first.import_id
    assert "already imported" in second.to_text()
    assert table_dump(world) == before


def test_same_rates_in_another_file_are_unchanged(world, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = shared_data / "decks" / "globex_sell.csv"
    import_deck(world, src, kind=OwnerKind.CUSTOMER, owner="globex", received=ts("2026-11-01"))
    copy = tmp_path / "globex_again.csv"
    copy.write_text(src.read_text() + "\n")  # other bytes, same rates
    report = import_deck(world, copy, kind=OwnerKind.CUSTOMER, owner="globex", received=ts("2026-11-05"))
    assert report.counts["Unchanged"] == 14 and report.counts["New"] == 0 and report.counts["Closed"] == 0


BAD_DECKS = [
    # a bad rate cell on line 3
    "prefix,destination,rate,effective_date\n49,Germany,0.01,2026-11-01\n33,France,0,01x,2026-11-01\n",
    # not a deck at all
    "hello world\nthis is a letter\n",
    # the same code with two rates for one date
    "prefix,destination,rate,effective_date\n49,Germany,0.01,2026-11-01\n49,Germany,0.02,2026-11-01\n",
]


@pytest.mark.parametrize("content", BAD_DECKS)
def test_rejected_deck_leaves_the_database_unchanged(world, store_url: str, tmp_path: Path, content: str) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.csv"
    good.write_text("prefix,destination,rate,effective_date\n44,UK,0.005,2026-11-01\n")
    import_deck(world, good, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-01"))
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    dump = table_dump(world)
    digest = sqlite_files_digest(store_url) if store_url.startswith("sqlite") else None
    with pytest.raises(DeckRejected) as err:
        import_deck(world, bad, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-02"))
    assert "bad.csv" in str(err.value)
    assert table_dump(world) == dump
    if digest is not None:
        assert sqlite_files_digest(store_url) == digest


def test_dry_run_reports_and_writes_nothing(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    path = shared_data / "decks" / "acme_notice.csv"
    dump = table_dump(world)
    report = import_deck(world, path, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-02"), dry_run=True)
    assert report.status == "dry-run"
    assert report.counts["New"] > 0 and report.changes is not None and report.changes.height > 0
    assert table_dump(world) == dump


def test_full_deck_closes_left_out_codes_delta_does_not(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d1 = tmp_path / "d1.csv"
    d1.write_text("prefix,destination,rate,effective_date\n44,UK,0.005,2026-11-01\n33,FR,0.007,2026-11-01\n")
    import_deck(world, d1, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-01"))
    d2 = tmp_path / "d2.csv"
    d2.write_text("prefix,destination,rate,effective_date\n44,UK,0.005,2026-11-01\n")
    import_deck(world, d2, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-10"), mode="delta")
    assert set(in_force(world, OwnerKind.CARRIER, "acme", "2026-11-20")) == {"44", "33"}
    d2.write_text("prefix,destination,rate,effective_date\n44,UK,0.005,2026-11-01\n\n")  # new bytes
    report = import_deck(world, d2, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-10"), mode="full")
    assert report.counts["Closed"] == 1
    assert set(in_force(world, OwnerKind.CARRIER, "acme", "2026-11-20")) == {"44"}
    # history: 33 was in force before the received date of the full deck
    assert set(in_force(world, OwnerKind.CARRIER, "acme", "2026-11-09")) == {"44", "33"}


def test_rate_change_keeps_history(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "d.csv"
    d.write_text("prefix,destination,rate,effective_date\n44,UK,0.005,2026-11-01\n")
    import_deck(world, d, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-01"))
    d.write_text("prefix,destination,rate,effective_date\n44,UK,0.004,2026-11-15\n")
    import_deck(world, d, kind=OwnerKind.CARRIER, owner="acme", received=ts("2026-11-05"))
    assert in_force(world, OwnerKind.CARRIER, "acme", "2026-11-14T23:59:59") == {"44": 5_000}
    assert in_force(world, OwnerKind.CARRIER, "acme", "2026-11-15") == {"44": 4_000}


def test_import_bumps_the_store_version(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    with world.connect() as conn:
        v0 = store_version(conn)
    import_deck(world, shared_data / "decks" / "globex_sell.csv", kind=OwnerKind.CUSTOMER, owner="globex")
    with world.connect() as conn:
        assert store_version(conn) == v0 + 1


def test_unknown_owner_is_an_error(world, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="nobody"):
        import_deck(world, shared_data / "decks" / "globex_sell.csv", kind=OwnerKind.CARRIER, owner="nobody")


def test_received_date_parsing() -> None:
    assert parse_received("2026-11-02") == ts("2026-11-02")
    with pytest.raises(Exception, match="02/11/2026"):
        parse_received("02/11/2026")


def test_demo_samples_are_the_shared_decks() -> None:
    # the sample decks ship in ratedecks/samples for the demo; they must stay the shared ones
    for file, *_ in SAMPLES:
        assert (REPO / "ratedecks" / "samples" / file).read_bytes() == (
            REPO.parent / "shared" / "data" / "decks" / file
        ).read_bytes()
