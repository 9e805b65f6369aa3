"""Exact decimal strings, printed money, minutes, and text the PDF fonts can draw."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lcr.api.render import money as api_money
from lcr.billing.figures import (
    column_decimals,
    decimals_needed,
    grouped,
    latin_text,
    minutes_text,
    money,
    shown,
    signed,
    spreadsheet_safe,
)


@given(st.integers(-(10**15), 10**15))
def test_money_is_the_api_form_and_exact(micro: int) -> None:
    assert money(micro) == api_money(micro)
    assert Decimal(money(micro)) * 1_000_000 == micro


@given(st.integers(-(10**15), 10**15), st.integers(0, 6))
def test_shown_is_exact_or_refuses(micro: int, decimals: int) -> None:
    if decimals_needed(micro) > decimals:
        with pytest.raises(ValueError):
            shown(micro, decimals)
        return
    text = shown(micro, decimals)
    assert Decimal(text.replace(",", "")) * 1_000_000 == micro
    assert len(text.partition(".")[2]) == decimals


@pytest.mark.parametrize(
    ("micro", "decimals", "text"),
    [
        (1_234_500_000, 2, "1,234.50"),
        (-1_234_500_000, 2, "-1,234.50"),
        (8_900, 4, "0.0089"),
        (0, 2, "0.00"),
        (1, 6, "0.000001"),
        (5_000_000, 0, "5"),
    ],
)
def test_shown(micro: int, decimals: int, text: str) -> None:
    assert shown(micro, decimals) == text


def test_signed_and_grouped() -> None:
    assert (signed(250_000_000, 2), signed(-12_300_000, 2), signed(0, 2)) == ("+250.00", "-12.30", "0.00")
    assert grouped("-1234567.5") == "-1,234,567.5"
    assert grouped("12") == "12"


def test_column_decimals() -> None:
    assert column_decimals([], at_least=2) == 2
    assert column_decimals([1_500_000, 10_000], at_least=2) == 2
    assert column_decimals([1_500_000, 12_345], at_least=2) == 6
    assert column_decimals([8_900], at_least=4) == 4


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0000"),
        (1, "0.0167"),  # 0.016666...
        (3, "0.0500"),
        (60, "1.0000"),
        (100, "1.6667"),
        (3601, "60.0167"),
        (10**9, "16666666.6667"),
    ],
)
def test_minutes(seconds: int, text: str) -> None:
    assert minutes_text(seconds) == text


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("Germany - Mobile", "Germany - Mobile"),
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+44123", "+44123"),  # a signed number is data
        ("-0.5", "-0.5"),
        ("-cmd", "'-cmd"),
        ("+", "'+"),
        ("\tx", "'\tx"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(text: str, safe: str) -> None:
    assert spreadsheet_safe(text) == safe


@pytest.mark.parametrize(
    ("text", "drawn"),
    [
        ("Zürich €", "Zürich €"),  # in cp1252
        ("Łódź", "Lódz"),  # ó is in cp1252; Ł and ź lose their marks
        ("Связь", "?????"),  # no Cyrillic in the core fonts
        ("Côte d’Ivoire", "Côte d’Ivoire"),
    ],
)
def test_latin_text(text: str, drawn: str) -> None:
    assert latin_text(text) == drawn
