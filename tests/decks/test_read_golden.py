"""Golden tests: every sample deck reads back as a person reads the file."""

from __future__ import annotations

import polars as pl
import pytest

from lcr.decks import CANONICAL_SCHEMA, ParsedDeck, read_deck
from lcr.errors import DeckRejected
from tests.decks.paths import DECKS, PROFILES, ts


def rows(parsed: ParsedDeck, prefix: str) -> list[dict[str, object]]:
    return parsed.frame.filter(pl.col("prefix") == prefix).to_dicts()


def one(parsed: ParsedDeck, prefix: str) -> dict[str, object]:
    found = rows(parsed, prefix)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    "name",
    ["acme_notice.csv", "borealis_rates.csv", "centauri_semicolon.csv", "delta_npanxx.csv", "globex_sell.csv",
     "orion_rates.xlsx"],
)
def test_schema_is_exact(name: str) -> None:
    parsed = read_deck(DECKS / name)
    assert dict(parsed.frame.schema) == CANONICAL_SCHEMA
    assert parsed.file == name
    assert parsed.frame["prefix"].str.contains(r"^\d+$").all()


def test_acme_notice() -> None:
    parsed = read_deck(DECKS / "acme_notice.csv")
    assert parsed.currency == "USD"
    assert "header on line 7" in parsed.layout
    assert "day-first" in parsed.layout
    # "49152, 49162, 49172-49174" on line 9: a list with a range
    for code in ("49152", "49162", "49172", "49173", "49174"):
        row = one(parsed, code)
        assert row["line"] == 9
        assert row["rate"] == 49_500
        assert (row["first_interval"], row["next_interval"]) == (60, 1)
        assert row["effective_from"] == ts(2026, 11, 9)
        assert row["destination"] == "Germany Mobile - Vodafone"
        assert row["change"] == "Increase"
    assert rows(parsed, "49171") and not rows(parsed, "49176")
    # "336 07, 336 08": spaces inside codes
    assert one(parsed, "33607")["rate"] == 52_000 and one(parsed, "33608")["line"] == 12
    # "447400-447409": ten codes
    uk = parsed.frame.filter(pl.col("line") == 14)
    assert uk["prefix"].to_list() == [f"4474{n:02d}" for n in range(10)]
    # "+521": the + is stripped; 16/11/2026 is day-first
    mexico = one(parsed, "521")
    assert mexico["effective_from"] == ts(2026, 11, 16) and mexico["change"] == "New"
    # "234803; 234806; 234703": a ';' list
    assert {one(parsed, c)["rate"] for c in ("234803", "234806", "234703")} == {112_300}
    glo = one(parsed, "234805")
    assert glo["destination"] == "Nigeria Mobile - Glo"
    assert glo["change"] == "Closed" and glo["rate"] == 121_000
    assert glo["effective_from"] == ts(2026, 11, 9)
    germany = one(parsed, "49")
    assert germany["effective_from"] == ts(2026, 11, 2) and germany["rate"] == 8_900
    assert (germany["first_interval"], germany["next_interval"]) == (60, 60)
    assert parsed.frame["sheet"].is_null().all()
    # the footer note after the blank line is not a rate
    assert parsed.frame["line"].max() == 17
    assert parsed.frame.height == 1 + 5 + 5 + 1 + 2 + 1 + 10 + 1 + 3 + 1


def test_borealis_rates() -> None:
    parsed = read_deck(DECKS / "borealis_rates.csv")
    assert parsed.currency == "USD"
    assert parsed.frame.height == 14
    assert parsed.frame["effective_from"].is_null().all()  # no dates: the importer uses the received date
    nigeria = one(parsed, "234")
    assert nigeria["connect_fee"] == 10_000 and nigeria["rate"] == 99_000
    assert (nigeria["first_interval"], nigeria["next_interval"]) == (60, 60)
    usa = one(parsed, "1")
    assert usa == {
        "line": 2, "sheet": None, "prefix": "1", "destination": "USA/Canada", "rate": 5_200, "connect_fee": 0,
        "first_interval": 6, "next_interval": 6, "effective_from": None, "effective_to": None, "change": None,
    }
    assert one(parsed, "2348")["line"] == 15  # CRLF and the BOM do not shift lines
    assert parsed.warnings == ()  # Grace Time is 0 everywhere


def test_centauri_semicolon() -> None:
    parsed = read_deck(DECKS / "centauri_semicolon.csv")
    assert parsed.currency == "USD"
    assert "delimiter ';'" in parsed.layout and "decimal commas" in parsed.layout
    assert one(parsed, "4915")["rate"] == 45_500  # 0,0455
    assert one(parsed, "49")["rate"] == 7_900  # 0,0079
    late = one(parsed, "4917")
    assert late["effective_from"] == ts(2026, 11, 15) and late["rate"] == 46_700 and late["line"] == 8
    assert one(parsed, "33")["effective_from"] == ts(2026, 11, 1)
    assert set(parsed.frame["first_interval"].to_list()) == {60}
    assert one(parsed, "2348")["destination"] == "Nigeria Mobil"


def test_delta_npanxx_routes_on_interrate_by_default() -> None:
    parsed = read_deck(DECKS / "delta_npanxx.csv")
    assert parsed.frame.height == 207
    first = one(parsed, "1201531")
    assert first["rate"] == 8_700  # interrate 0.0087 (intrarate is 0.0075)
    assert (first["first_interval"], first["next_interval"]) == (6, 6)
    assert first["effective_from"] == ts(2026, 11, 1)
    assert one(parsed, "1201274")["effective_from"] == ts(2026, 11, 20)  # 11/20/2026: month-first
    assert any("interrate" in w for w in parsed.warnings)


def test_delta_intrastate_profile_routes_on_intrarate() -> None:
    parsed = read_deck(DECKS / "delta_npanxx.csv", profile="delta_intrastate", profiles_dir=PROFILES)
    assert one(parsed, "1201531")["rate"] == 7_500
    assert one(parsed, "1201845")["rate"] == 7_100
    assert parsed.currency == "USD"
    explicit = read_deck(DECKS / "delta_npanxx.csv", profile="delta_npanxx", profiles_dir=PROFILES)
    assert one(explicit, "1201531")["rate"] == 8_700


def test_globex_canonical() -> None:
    parsed = read_deck(DECKS / "globex_sell.csv")
    assert parsed.currency is None
    assert parsed.frame.height == 14
    assert one(parsed, "4915") == {
        "line": 9, "sheet": None, "prefix": "4915", "destination": "Germany Mobile", "rate": 60_000,
        "connect_fee": 0, "first_interval": 60, "next_interval": 1, "effective_from": ts(2026, 11, 1),
        "effective_to": None, "change": None,
    }
    assert one(parsed, "2348")["connect_fee"] == 10_000
    assert parsed.warnings == ()


def test_orion_workbook() -> None:
    parsed = read_deck(DECKS / "orion_rates.xlsx")
    assert parsed.currency == "USD"  # named on the Cover sheet
    # Country Code 49 + Area Code 151; the date is the Excel serial 46327
    row = one(parsed, "49151")
    assert row["sheet"] == "Rates" and row["line"] == 4
    assert row["effective_from"] == ts(2026, 11, 1)
    assert row["rate"] == 47_100
    assert (row["first_interval"], row["next_interval"]) == (30, 6)
    assert row["change"] == "Unchanged"
    # an empty area code is the whole country
    assert one(parsed, "49")["destination"] == "Germany Fixed"
    assert one(parsed, "336")["effective_from"] == ts(2026, 11, 8)  # a real date cell
    assert one(parsed, "521")["change"] == "New"
    # the Code Removal sheet
    removed = one(parsed, "234805")
    assert removed["change"] == "Closed" and removed["rate"] is None
    assert removed["sheet"] == "Code Removal" and removed["line"] == 2
    assert removed["effective_from"] == ts(2026, 11, 9)
    assert any("Code Removal" in w for w in parsed.warnings)
    assert parsed.frame.height == 10


def test_orion_profile() -> None:
    parsed = read_deck(DECKS / "orion_rates.xlsx", profile="orion", profiles_dir=PROFILES)
    assert parsed.frame.height == 10 and parsed.currency == "USD"


@pytest.mark.parametrize(
    ("deck", "profile"),
    [
        ("acme_notice.csv", "acme"),
        ("borealis_rates.csv", "borealis"),
        ("centauri_semicolon.csv", "centauri"),
        ("delta_npanxx.csv", "delta_npanxx"),
    ],
)
def test_profiles_agree_with_detection(deck: str, profile: str) -> None:
    detected = read_deck(DECKS / deck)
    pinned = read_deck(DECKS / deck, profile=profile, profiles_dir=PROFILES)
    assert pinned.frame.equals(detected.frame)


def test_every_shipped_profile_loads() -> None:
    from lcr.decks import load_profile

    names = sorted(p.stem for p in PROFILES.glob("*.toml"))
    assert {"delta_npanxx", "delta_intrastate"} <= set(names)
    for name in names:
        assert load_profile(name, PROFILES).name == name


def test_missing_file_is_rejected(tmp_path: object) -> None:
    with pytest.raises(DeckRejected, match="cannot be read"):
        read_deck(DECKS / "no_such_deck.csv")
