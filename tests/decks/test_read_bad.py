"""Bad decks: every bad cell is reported with its line, column and value; deck-level errors are clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from lcr.decks import read_deck
from lcr.errors import DeckProblem, DeckRejected

HEADER = "prefix,destination,rate,effective_date,first_interval,next_interval,connect_fee,change\n"
GOOD = "49,Germany,0.01,2026-11-01,1,1,0,\n"


def write(tmp_path: Path, body: str, name: str = "deck.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def rejected(path: Path, **kwargs: object) -> DeckRejected:
    with pytest.raises(DeckRejected) as info:
        read_deck(path, **kwargs)  # type: ignore[arg-type]
    return info.value


def where(problems: list[DeckProblem]) -> list[tuple[int | None, str | None, str | None]]:
    return [(p.line, p.column, p.value) for p in problems]


# (row after the header -- so on line 3, after one good row on line 2 --, column, value, message part)
CELL_CASES = [
    # a letter in a decimal-comma rate
    ('33,France,"0,01x",2026-11-01,1,1,0,', "rate", "0,01x", "is not a number"),
    # thousands separator and decimal comma together: not guessed
    ('33,France,"1.234,5",2026-11-01,1,1,0,', "rate", "1.234,5", "is not a number"),
    # a negative rate
    ("33,France,-0.01,2026-11-01,1,1,0,", "rate", "-0.01", "is negative"),
    # seven significant decimals
    ("33,France,0.0123456,2026-11-01,1,1,0,", "rate", "0.0123456", "has more than 6 decimals"),
    # no rate, and not Closed
    ("33,France,,2026-11-01,1,1,0,", "rate", "", "is empty"),
    # an empty code
    (",France,0.01,2026-11-01,1,1,0,", "prefix", "", "is empty"),
    # a letter in a code
    ("33a,France,0.01,2026-11-01,1,1,0,", "prefix", "33a", "is not a code"),
    # a + and nothing else
    ("+,France,0.01,2026-11-01,1,1,0,", "prefix", "+", "nothing after the + or 00"),
    # a reversed range
    ("447409-447400,UK,0.01,2026-11-01,1,1,0,", "prefix", "447409-447400", "reversed range"),
    # range ends of different lengths
    ("4474-447409,UK,0.01,2026-11-01,1,1,0,", "prefix", "4474-447409", "different lengths"),
    # a range of 200,001 codes
    ("1000000-1200000,US,0.01,2026-11-01,1,1,0,", "prefix", "1000000-1200000", "more than 100,000 codes"),
    # a zero increment
    ("33,France,0.01,2026-11-01,0,1,0,", "first_interval", "0", "outside 1..86400"),
    # a negative increment
    ("33,France,0.01,2026-11-01,1,-6,0,", "next_interval", "-6", "not a whole number of seconds"),
    # text as an increment
    ("33,France,0.01,2026-11-01,abc,1,0,", "first_interval", "abc", "not a whole number of seconds"),
    # 30 February
    ("33,France,0.01,2026-02-30,1,1,0,", "effective_date", "2026-02-30", "is not a valid date"),
    # not a date at all
    ("33,France,0.01,tomorrow,1,1,0,", "effective_date", "tomorrow", "is not a date"),
    # a bad connect fee
    ("33,France,0.01,2026-11-01,1,1,1.2.3,", "connect_fee", "1.2.3", "is not a number"),
    # an unknown change word
    ("33,France,0.01,2026-11-01,1,1,0,Maybe", "change", "Maybe", "is not a known change"),
]


@pytest.mark.parametrize(("row", "column", "value", "message"), CELL_CASES)
def test_bad_cell_is_reported_exactly(tmp_path: Path, row: str, column: str, value: str, message: str) -> None:
    error = rejected(write(tmp_path, GOOD + row + "\n"))
    assert where(error.problems) == [(3, column, value)]
    assert message in error.problems[0].message
    assert error.problems[0].file == "deck.csv"
    assert "deck.csv" in error.message and "nothing imported" in error.message


def test_problem_reads_like_the_style_guide(tmp_path: Path) -> None:
    body = GOOD * 15 + '33,France,"0,01x",2026-11-01,1,1,0,\n'
    error = rejected(write(tmp_path, body))
    assert str(error.problems[0]) == "deck.csv line 17, column 'rate': '0,01x' is not a number"


def test_every_bad_row_is_reported(tmp_path: Path) -> None:
    body = (
        GOOD  # line 2
        + "33,France,abc,2026-11-01,1,1,0,\n"  # line 3: rate
        + "34,Spain,0.01,2026-13-01,1,1,0,\n"  # line 4: date
        + "35,Hungary,-1,2026-11-01,0,1,0,\n"  # line 5: rate and first_interval
        + GOOD.replace("49", "39")  # line 6: good
        + "x1;x2,Italy,0.01,2026-11-01,1,1,0,\n"  # line 7: two bad codes in a list
        + "4x,Malta,1e-3,2026-11-01,1,1,0,\n"  # line 8: a bad code and a bad rate in one row
    )
    error = rejected(write(tmp_path, body))
    assert where(error.problems) == [
        (3, "rate", "abc"),
        (4, "effective_date", "2026-13-01"),
        (5, "first_interval", "0"),
        (5, "rate", "-1"),
        (7, "prefix", "x1"),
        (7, "prefix", "x2"),
        (8, "prefix", "4x"),
        (8, "rate", "1e-3"),
    ]


def test_many_bad_rows_in_a_big_deck_are_all_reported(tmp_path: Path) -> None:
    lines = [f"{4900 + i},Germany,{'0.01' if i % 100 else 'bad'},2026-11-01,1,1,0," for i in range(5000)]
    error = rejected(write(tmp_path, "\n".join(lines) + "\n"))
    assert [p.line for p in error.problems] == [2 + i for i in range(0, 5000, 100)]
    assert {p.value for p in error.problems} == {"bad"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # two rates for one code on one day (the second line is the one reported)
        (GOOD + "4915,Mobile,0.01,2026-11-01,1,1,0,\n" + GOOD.replace("0.01", "0.02"),
         "duplicate code 49 with two different rates on 2026-11-01: lines 2 and 4 (0.01 and 0.02)"),
        # a range overlapping a single code with another increment
        ("4917-4919,Mobile,0.05,2026-11-01,60,1,0,\n4918,Mobile,0.05,2026-11-01,1,1,0,\n",
         "duplicate code 4918 with different first_interval on 2026-11-01: lines 2 and 3"),
    ],
)
def test_conflicting_duplicates(tmp_path: Path, body: str, message: str) -> None:
    error = rejected(write(tmp_path, body))
    assert [p.message for p in error.problems] == [message]


def test_identical_duplicates_are_merged_with_a_warning(tmp_path: Path) -> None:
    parsed = read_deck(write(tmp_path, GOOD + "33,France,0.02,2026-11-01,1,1,0,\n" + GOOD))
    assert parsed.frame["prefix"].to_list() == ["49", "33"]
    assert parsed.warnings == ("identical duplicate rows merged: 49 (lines 2 and 4)",)


def test_same_code_on_two_dates_is_not_a_duplicate(tmp_path: Path) -> None:
    parsed = read_deck(write(tmp_path, GOOD + GOOD.replace("0.01,2026-11-01", "0.02,2026-12-01")))
    assert parsed.frame["rate"].to_list() == [10_000, 20_000]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # free text, no table
        (b"Dear customer,\nplease find attached our new rates.\n", "no header row with a code and a rate column"),
        # a header with nothing under it
        (HEADER.encode(), "no rate rows found"),
        # nothing at all
        (b"", "the file is empty"),
        # bytes that are neither UTF-8 nor CP1252 (0x81 is undefined in CP1252)
        (HEADER.encode() + b"49,Germ\x81ny,0.01,2026-11-01,1,1,0,\n", "unreadable encoding"),
        # binary
        (b"\x00\x01\x02\x03prefix,rate\n", "unreadable encoding"),
        # a code column but no rate column
        (b"prefix,destination\n49,Germany\n", "no header row with a code and a rate column"),
    ],
)
def test_deck_level_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "deck.csv"
    path.write_bytes(content)
    error = rejected(path)
    assert message in error.message


def test_ambiguous_date_column_asks_for_a_profile(tmp_path: Path) -> None:
    path = write(tmp_path, "49,Germany,0.01,02/11/2026\n33,France,0.01,03/11/2026\n",
                 header="prefix,destination,rate,effective_date\n")
    error = rejected(path)
    (problem,) = error.problems
    assert problem.column == "effective_date"
    assert "ambiguous date column 'effective_date'" in problem.message
    assert "date_order" in problem.message and "'02/11/2026'" in problem.message


def test_day_and_month_first_in_one_column(tmp_path: Path) -> None:
    path = write(tmp_path, "49,Germany,0.01,16/11/2026\n33,France,0.01,11/20/2026\n",
                 header="prefix,destination,rate,effective_date\n")
    (problem,) = rejected(path).problems
    assert "line 2: '16/11/2026'" in problem.message and "line 3: '11/20/2026'" in problem.message


def test_competing_rate_columns_need_a_profile(tmp_path: Path) -> None:
    path = write(tmp_path, "49,0.01,0.02\n", header="prefix,rate,price\n")
    error = rejected(path)
    assert "'rate', 'price'" in error.message and "rate_column" in error.message
    parsed = read_deck(path, profile=_profile(tmp_path, 'rate_column = "price"'))
    assert parsed.frame["rate"].to_list() == [20_000]


def _profile(tmp_path: Path, body: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(body + "\n", encoding="utf-8")
    return str(path)


def test_unquoted_code_list_is_caught(tmp_path: Path) -> None:
    # the list is not quoted: the rate column would silently read " 49162"
    path = write(tmp_path, "Germany,49152, 49162,0.05\n", header="destination,prefix,rate\n")
    (problem,) = rejected(path).problems
    assert problem.line == 2 and "more fields" in problem.message


def test_rate_rows_after_a_blank_line_are_not_dropped_silently(tmp_path: Path) -> None:
    path = write(tmp_path, "49,Germany,0.01\n\n33,France,0.02\n", header="prefix,destination,rate\n")
    (problem,) = rejected(path).problems
    assert problem.line == 4 and "after the blank line 3" in problem.message


def test_end_date_must_follow_the_effective_date(tmp_path: Path) -> None:
    path = write(tmp_path, "49,Germany,0.01,2026-11-01,2026-10-01\n",
                 header="prefix,destination,rate,effective_date,end_date\n")
    assert where(rejected(path).problems) == [(2, "end_date", "2026-10-01")]


def test_closed_rows_may_have_no_rate(tmp_path: Path) -> None:
    parsed = read_deck(write(tmp_path, GOOD + "33,France,,2026-11-01,1,1,0,Removed\n"))
    closed = parsed.frame.row(1, named=True)
    assert closed["rate"] is None and closed["change"] == "Closed"


def test_bad_dates_in_a_big_deck_are_all_reported(tmp_path: Path) -> None:
    # 3,000 rows with few distinct dates: each date is parsed once, its problem reported on every row
    lines = [f"{4900 + i},X,0.01,{'31/02/2026' if i % 500 == 0 else '16/11/2026'}" for i in range(3000)]
    path = write(tmp_path, "\n".join(lines) + "\n", header="prefix,destination,rate,effective_date\n")
    error = rejected(path)
    assert where(error.problems) == [(2 + i, "effective_date", "31/02/2026") for i in range(0, 3000, 500)]
    assert {p.message for p in error.problems} == {"is not a valid date"}


def test_ambiguous_dates_in_a_big_deck_are_one_problem(tmp_path: Path) -> None:
    lines = [f"{4900 + i},X,0.01,0{1 + i % 9}/11/2026" for i in range(3000)]
    path = write(tmp_path, "\n".join(lines) + "\n", header="prefix,destination,rate,effective_date\n")
    (problem,) = rejected(path).problems
    assert "ambiguous date column" in problem.message and "line 2: '01/11/2026'" in problem.message


def test_ranges_expanding_beyond_the_deck_cap_are_refused(tmp_path: Path) -> None:
    # 60 ranges of 100,000 codes each: every range is allowed, together they are 6,000,000 codes
    body = "".join(f"{i}00000-{i}99999,0.01\n" for i in range(10, 70))
    error = rejected(write(tmp_path, body, header="prefix,rate\n"))
    assert "expand to 6,000,000 codes (more than 5,000,000)" in error.message


def test_repeats_differing_only_in_destination_keep_the_first(tmp_path: Path) -> None:
    parsed = read_deck(write(tmp_path, GOOD + GOOD.replace("Germany", "Deutschland")))
    assert parsed.frame["destination"].to_list() == ["Germany"]
    assert parsed.warnings == ("duplicate rows differing only in destination name, first kept: 49 (lines 2 and 3)",)
