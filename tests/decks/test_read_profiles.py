"""Import profiles: loading, validation (unknown keys are errors), and the mapping they pin."""

from __future__ import annotations

from pathlib import Path

import pytest

from lcr.decks import Profile, load_profile, read_deck
from lcr.errors import DeckRejected, InputError, NotFound
from tests.decks.paths import DECKS


def profile(tmp_path: Path, body: str, name: str = "vendor") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_auto_is_pure_detection(tmp_path: Path) -> None:
    assert load_profile("auto", tmp_path) == Profile()


def test_load_by_name(tmp_path: Path) -> None:
    profile(tmp_path, 'rate_column = "intrarate"\ndate_order = "mdy"\ncurrency = "usd"\n[columns]\nprefix = "code"\n')
    loaded = load_profile("vendor", tmp_path)
    assert (loaded.name, loaded.rate_column, loaded.date_order) == ("vendor", "intrarate", "mdy")
    assert loaded.currency == "USD"
    assert loaded.columns == {"prefix": "code"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # a typo in a key
        ('rate_colum = "x"\n', "unknown key 'rate_colum'"),
        # an unknown column role
        ('[columns]\ncost = "Price"\n', "unknown key 'columns.cost'"),
        # a wrong type
        ("header_line = \"7\"\n", "key 'header_line' has the wrong type"),
        # a bool is not a line number
        ("header_line = true\n", "key 'header_line' has the wrong type"),
        # not dmy/mdy
        ('date_order = "ymd"\n', "date_order must be 'dmy' or 'mdy'"),
        # a two-character delimiter
        ('delimiter = ";;"\n', "delimiter must be one character"),
        # not a currency code
        ('currency = "dollars"\n', "currency must be a 3-letter code"),
        # not TOML
        ("rate_column = \n", "cannot be read"),
    ],
)
def test_bad_profiles_name_the_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    path = profile(tmp_path, body)
    with pytest.raises(InputError) as info:
        load_profile("vendor", tmp_path)
    assert message in info.value.message
    assert str(path) in info.value.message


def test_missing_profile(tmp_path: Path) -> None:
    profile(tmp_path, "", name="other")
    with pytest.raises(NotFound, match=r"no import profile 'acme'.*known: other"):
        load_profile("acme", tmp_path)


def test_profile_column_missing_from_the_deck(tmp_path: Path) -> None:
    profile(tmp_path, '[columns]\nprefix = "Dial Code"\n')
    with pytest.raises(DeckRejected) as info:
        read_deck(DECKS / "globex_sell.csv", profile="vendor", profiles_dir=tmp_path)
    assert "no column 'Dial Code' for prefix" in info.value.problems[0].message


def test_profile_object_is_accepted(tmp_path: Path) -> None:
    parsed = read_deck(DECKS / "delta_npanxx.csv", profile=Profile(name="inline", rate_column="ijrate"))
    assert parsed.frame["rate"][0] == 8_700
    assert "rate column 'ijrate' (profile)" in parsed.layout
