"""Detection of vendor layouts beyond the samples: encodings, dates, codes, billing, workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from lcr.decks import read_deck
from lcr.decks.header import role_of
from lcr.errors import DeckRejected
from tests.decks.paths import ts


def deck(tmp_path: Path, text: str, name: str = "deck.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def column(path: Path, name: str, **kwargs: object) -> list[object]:
    return read_deck(path, **kwargs).frame[name].to_list()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("Dial Codes", "prefix"),
        ("Code(s)", "prefix"),
        ("Country Code", "country_code"),
        ("Area Code", "area_code"),
        ("Rate/Min", "rate"),
        ("Cost / Min (USD)", "rate"),
        ("Rate USD/min", "rate"),
        ("Price per minute", "rate"),
        ("Connection Cost (USD)", "connect_fee"),
        ("Setup Fee", "connect_fee"),
        ("Valid from", "effective_date"),
        ("Effective Date", "effective_date"),
        ("Valid until", "end_date"),
        ("Min/Inc", "billing"),
        ("Billing Increment", "billing"),
        ("Initial Increment", "first_interval"),
        ("Increment", "next_interval"),
        ("Grace Time", "grace_time"),
        ("Status", "change"),
        ("Network", "destination"),
        ("Old Rate", "ignored"),
        ("Rate (per min)", "rate"),
        ("Rate in USD", "rate"),
        ("USD/min", "rate"),
        ("Prefix(es)", "prefix"),
        ("Effective date (dd/mm/yyyy)", "effective_date"),
    ],
)
def test_header_names(header: str, role: str) -> None:
    assert role_of(header) == role


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-11-01", ts(2026, 11, 1)),  # ISO date
        ("2026-11-01T08:30:00", ts(2026, 11, 1, 8, 30)),  # ISO datetime: UTC
        ("2026-11-01T08:30:00+02:00", ts(2026, 11, 1, 6, 30)),  # with an offset
        ("2026-11-01T08:30:00Z", ts(2026, 11, 1, 8, 30)),  # Z
        ("2026-11-01 08:30", ts(2026, 11, 1, 8, 30)),  # space separator, no seconds
        ("20261101", ts(2026, 11, 1)),  # basic ISO
        ("46327", ts(2026, 11, 1)),  # Excel serial as text
        ("46327.5", ts(2026, 11, 1, 12)),  # Excel serial with a time
        ("", None),  # no date
    ],
)
def test_date_forms(tmp_path: Path, cell: str, expected: int | None) -> None:
    path = deck(tmp_path, f"prefix,rate,effective_date\n49,0.01,{cell}\n")
    assert column(path, "effective_from") == [expected]


@pytest.mark.parametrize(
    ("cells", "expected", "profile"),
    [
        # a day above 12 proves day-first for the whole column
        (["01/11/2026", "16/11/2026"], [ts(2026, 11, 1), ts(2026, 11, 16)], None),
        # a second field above 12 proves month-first
        (["11/1/2026", "11/20/2026"], [ts(2026, 11, 1), ts(2026, 11, 20)], None),
        # dotted day-first
        (["01.11.2026", "15.11.2026"], [ts(2026, 11, 1), ts(2026, 11, 15)], None),
        # day == month: the order does not matter
        (["01/01/2027", "11/11/2026"], [ts(2027, 1, 1), ts(2026, 11, 11)], None),
        # ambiguous, but a profile pins month-first
        (["02/11/2026", "03/11/2026"], [ts(2026, 2, 11), ts(2026, 3, 11)], 'date_order = "mdy"'),
        # with a time
        (["16/11/2026 08:00", "01/11/2026"], [ts(2026, 11, 16, 8), ts(2026, 11, 1)], None),
    ],
)
def test_day_month_order(tmp_path: Path, cells: list[str], expected: list[int], profile: str | None) -> None:
    rows = "".join(f"{49 + i},0.01,{c}\n" for i, c in enumerate(cells))
    path = deck(tmp_path, "prefix,rate,Valid From\n" + rows)
    kwargs: dict[str, object] = {}
    if profile:
        (tmp_path / "p.toml").write_text(profile)
        kwargs["profile"] = str(tmp_path / "p.toml")
    assert column(path, "effective_from", **kwargs) == expected


@pytest.mark.parametrize(
    ("cell", "codes"),
    [
        ("49152, 49162", ["49152", "49162"]),  # comma list
        ("234803; 234806", ["234803", "234806"]),  # semicolon list
        ("336 07", ["33607"]),  # space inside a code
        ("+521", ["521"]),  # leading +
        ("0049", ["49"]),  # leading 00
        ("447400-447402", ["447400", "447401", "447402"]),  # range
        ("0447400 - 0447401", ["0447400", "0447401"]),  # spaced range keeps the leading zero
        ("49170-49171, 49175", ["49170", "49171", "49175"]),  # list with a range
        ("4917,", ["4917"]),  # trailing comma
    ],
)
def test_code_cells(tmp_path: Path, cell: str, codes: list[str]) -> None:
    path = deck(tmp_path, f'Dial Codes,Rate\n"{cell}",0.01\n')
    assert column(path, "prefix") == codes


def test_country_and_area_code_columns(tmp_path: Path) -> None:
    path = deck(tmp_path, 'Destination,Country Code,Area Code,Rate\nGermany Mobile,+49,"151, 160",0.04\n'
                          "Germany,49,,0.01\n")
    parsed = read_deck(path)
    assert parsed.frame.select("prefix", "destination", "line").rows() == [
        ("49151", "Germany Mobile", 2), ("49160", "Germany Mobile", 2), ("49", "Germany", 3)
    ]


@pytest.mark.parametrize(
    ("header", "cells", "first", "next_"),
    [
        ("Billing", "60/1", 60, 1),
        ("Billing", "1-1", 1, 1),
        ("Min/Inc", "30/6", 30, 6),
        ("Interval", "60", 60, 60),  # a single number is first = next
        ("Billing", "", 1, 1),  # empty: the default
        ("Min,Inc", "30,6", 30, 6),  # two columns
        ("Initial Increment,Increment", "60,1", 60, 1),
        ("duration,increment", "6,6", 6, 6),
    ],
)
def test_billing_cells(tmp_path: Path, header: str, cells: str, first: int, next_: int) -> None:
    path = deck(tmp_path, f"Code,Rate,{header}\n49,0.01,{cells}\n")
    parsed = read_deck(path)
    assert parsed.frame.select("first_interval", "next_interval").row(0) == (first, next_)


def test_grace_time_is_ignored_with_a_warning(tmp_path: Path) -> None:
    path = deck(tmp_path, "Code,Rate,Grace Time\n49,0.01,0\n33,0.01,5\n")
    parsed = read_deck(path)
    assert parsed.frame.height == 2
    assert parsed.warnings == ("'Grace Time' is not applied: non-zero grace time on line(s) 3",)


@pytest.mark.parametrize(
    ("word", "change"),
    [
        ("Removed", "Closed"), ("deleted", "Closed"), ("Code Removal", "Closed"), ("CLOSED", "Closed"),
        ("Blocked", "Blocked"), ("Barred", "Blocked"), ("Current", "Unchanged"), ("No Change", "Unchanged"),
        ("same", "Unchanged"), ("Added", "New"), ("new", "New"), ("Increased", "Increase"),
        ("decrease", "Decrease"), ("", None),
    ],
)
def test_change_words(tmp_path: Path, word: str, change: str | None) -> None:
    path = deck(tmp_path, f"prefix,rate,change\n49,0.01,{word}\n")
    assert column(path, "change") == [change]


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("Code,Rate (EUR)\n49,0.01\n", "EUR"),  # in the rate header
        ("Price list\nCurrency:,GBP\n\nCode,Rate\n49,0.01\n", "GBP"),  # in the preamble
        ("Code,Rate,Currency\n49,0.01,usd\n33,0.01,USD\n", "USD"),  # a currency column
        ("Code,Rate\n49,0.01\n", None),  # not named
    ],
)
def test_currency(tmp_path: Path, text: str, currency: str | None) -> None:
    assert read_deck(deck(tmp_path, text)).currency == currency


def test_currency_conflicts_are_errors(tmp_path: Path) -> None:
    path = deck(tmp_path, "Currency: GBP\nCode,Rate (EUR)\n49,0.01\n")
    with pytest.raises(DeckRejected, match="several currencies"):
        read_deck(path)
    (tmp_path / "p.toml").write_text('currency = "USD"\n')
    with pytest.raises(DeckRejected, match="the profile says USD but the deck says EUR"):
        read_deck(deck(tmp_path, "Code,Rate (EUR)\n49,0.01\n"), profile=str(tmp_path / "p.toml"))


def test_tab_delimited_cp1252(tmp_path: Path) -> None:
    path = deck(tmp_path, "Destination\tPrefix\tPrice\nCôte d’Ivoire\t225\t0,12\n", encoding="cp1252")
    parsed = read_deck(path)
    assert parsed.frame.select("destination", "prefix", "rate").row(0) == ("Côte d’Ivoire", "225", 120_000)
    assert "CP1252" in parsed.layout and "delimiter '\\t'" in parsed.layout


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = deck(tmp_path, "\ufeffCode\tRate\r\n49\t0.01\r\n", encoding="utf-16-le")
    assert column(path, "rate") == [10_000]


def test_quoted_newline_keeps_line_numbers(tmp_path: Path) -> None:
    path = deck(tmp_path, 'prefix,destination,rate\n49,"Germany\nFixed",0.01\n33,France,0.02\n')
    assert column(path, "line") == [2, 4]


def test_footer_note_is_ignored(tmp_path: Path) -> None:
    path = deck(tmp_path, "prefix,rate\n49,0.01\n\nAll prices excl. VAT, see www.example.com\n")
    parsed = read_deck(path)
    assert parsed.frame.height == 1 and "footer after line 3 ignored" in parsed.layout


def test_decimal_comma_can_be_refused_by_a_profile(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text("decimal_comma = false\n")
    path = deck(tmp_path, "prefix;rate\n49;0,01\n")
    with pytest.raises(DeckRejected) as info:
        read_deck(path, profile=str(tmp_path / "p.toml"))
    assert [(p.line, p.value) for p in info.value.problems] == [(2, "0,01")]


def test_exact_money_never_through_float(tmp_path: Path) -> None:
    path = deck(tmp_path, "prefix,rate,connect_fee\n1,0.1234560,0.000001\n2,123456.123456,0\n3,.5,\n")
    parsed = read_deck(path)
    assert parsed.frame.select("rate", "connect_fee").rows() == [
        (123_456, 1), (123_456_123_456, 0), (500_000, 0)
    ]


def test_profile_header_line_and_columns(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        'header_line = 2\n[columns]\nprefix = "Num"\nrate = "Amount"\ndestination = ["Country", "Net"]\n'
    )
    path = deck(tmp_path, "Vendor X\nCountry,Net,Num,Amount\nGermany,Mobile,49,0.01\n")
    parsed = read_deck(path, profile=str(tmp_path / "p.toml"))
    assert parsed.frame.select("prefix", "destination", "rate").row(0) == ("49", "Germany Mobile", 10_000)


def _workbook(path: Path, *, removal: bool = True) -> None:
    wb = openpyxl.Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = "Cover"
    cover["A1"] = "Vega Telecom, all rates in EUR"
    ws = wb.create_sheet("Price List")
    ws["A2"] = "Vega Telecom price list"
    ws.append([])
    ws.append(["Country", "Code", "Price", "Valid From", "Billing"])  # row 4
    ws.append(["Germany", 49, 0.0471, 46327, "60/60"])  # row 5: a serial date number
    ws.append(["France", "33, 34", 0.1 + 0.2, dt.datetime(2026, 11, 8), "1/1"])  # row 6: real date, float noise
    ws.append(["Spain", 3491, 1e-05, "2026-11-09", "1/1"])  # row 7
    if removal:
        rm = wb.create_sheet("Deleted Codes")
        rm.append(["Code(s)", "Effective Date"])
        rm.append(["2348; 2349", dt.datetime(2026, 11, 9)])
    wb.save(path)


def test_workbook_detection(tmp_path: Path) -> None:
    path = tmp_path / "vega.xlsx"
    _workbook(path)
    parsed = read_deck(path)
    frame = parsed.frame
    assert frame.select("sheet", "line", "prefix", "rate", "effective_from").rows() == [
        ("Price List", 5, "49", 47_100, ts(2026, 11, 1)),
        ("Price List", 6, "33", 300_000, ts(2026, 11, 8)),
        ("Price List", 6, "34", 300_000, ts(2026, 11, 8)),
        ("Price List", 7, "3491", 10, ts(2026, 11, 9)),
        ("Deleted Codes", 2, "2348", None, ts(2026, 11, 9)),
        ("Deleted Codes", 2, "2349", None, ts(2026, 11, 9)),
    ]
    assert frame.filter(pl.col("sheet") == "Deleted Codes")["change"].to_list() == ["Closed", "Closed"]
    assert parsed.currency == "EUR"


def test_workbook_bad_cell_names_the_sheet_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Rates"
    ws.append(["Code", "Rate"])
    ws.append([49, 0.01])
    ws.append([33, "n/a"])
    wb.save(path)
    with pytest.raises(DeckRejected) as info:
        read_deck(path)
    (problem,) = info.value.problems
    assert str(problem) == "bad.xlsx sheet 'Rates' line 3, column 'Rate': 'n/a' is not a number"


def test_workbook_profile_can_ignore_the_removal_sheet(tmp_path: Path) -> None:
    path = tmp_path / "vega.xlsx"
    _workbook(path)
    (tmp_path / "p.toml").write_text('sheet = "Price List"\nremoval_sheet = false\n')
    parsed = read_deck(path, profile=str(tmp_path / "p.toml"))
    assert parsed.frame["sheet"].unique().to_list() == ["Price List"]


def test_new_rate_wins_over_current_rate(tmp_path: Path) -> None:
    path = deck(tmp_path, "Code,Current Rate,New Rate,Old Rate\n49,0.01,0.02,0.005\n")
    parsed = read_deck(path)
    assert parsed.frame["rate"].to_list() == [20_000]
    assert "rate column 'New Rate' (the new rate)" in parsed.layout


def test_heading_rows_are_skipped_with_a_warning(tmp_path: Path) -> None:
    path = deck(tmp_path, "Destination,Code,Rate\nEUROPE,,\nGermany,49,0.01\nAFRICA,,\nNigeria,234,0.1\n")
    parsed = read_deck(path)
    assert parsed.frame["line"].to_list() == [3, 5]
    assert parsed.warnings == ("deck.csv: rows without code and rate skipped (headings?): line(s) 2, 4",)


def test_immediate_is_no_date(tmp_path: Path) -> None:
    path = deck(tmp_path, "Code,Rate,Effective Date\n49,0.01,Immediate\n33,0.01,16/11/2026\n")
    assert column(path, "effective_from") == [None, ts(2026, 11, 16)]


@pytest.mark.parametrize(
    ("header", "row", "destination"),
    [
        ("Country,Network,Code,Rate", "Nigeria,Mobile - Glo,234805,0.1", "Nigeria Mobile - Glo"),  # joined
        ("Country,Destination,Code,Rate", "Germany,Germany Mobile,4915,0.1", "Germany Mobile"),  # the named one
        ("Code,Rate", "49,0.1", ""),  # none
    ],
)
def test_destination_columns(tmp_path: Path, header: str, row: str, destination: str) -> None:
    assert column(deck(tmp_path, f"{header}\n{row}\n"), "destination") == [destination]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0471, "0.0471"),  # what was typed
        (0.1 + 0.2, "0.3"),  # formula noise beyond 15 significant digits
        (1e-05, "0.00001"),  # no exponent
        (49.0, "49"),  # an integral number (a code)
        (123456789.123456, "123456789.123456"),
        (46327.5, "46327.5"),
    ],
)
def test_workbook_numbers_are_read_as_displayed(value: float, text: str) -> None:
    from lcr.decks.workbook import _shortest, _shortest_column

    assert _shortest(value) == text
    assert _shortest_column(pl.Series([value, 1.0])).to_list() == [text, "1"]


def test_date_format_in_the_header_decides_the_order(tmp_path: Path) -> None:
    # no value proves the order, but the header says it
    path = deck(tmp_path, "Code,Rate,Effective Date (MM/DD/YYYY)\n49,0.01,02/11/2026\n")
    parsed = read_deck(path)
    assert parsed.frame["effective_from"].to_list() == [ts(2026, 2, 11)]
    assert "mdy-ordered dates" in parsed.layout


def test_workbook_profile_header_row(tmp_path: Path) -> None:
    path = tmp_path / "pinned.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Tariff"
    ws.append(["Code", "Rate", "Note: this row is not the header"])  # row 1 scores as a header
    ws.append(["Prefix", "Price"])  # row 2: the real header
    ws.append(["4915", 0.05])
    wb.save(path)
    (tmp_path / "p.toml").write_text('sheet = "Tariff"\nheader_line = 2\n')
    parsed = read_deck(path, profile=str(tmp_path / "p.toml"))
    assert parsed.frame.select("line", "prefix", "rate").rows() == [(3, "4915", 50_000)]
