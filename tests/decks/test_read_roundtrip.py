"""Property: a canonical deck written from random valid rows reads back exactly the same values."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcr.decks import read_deck
from lcr.money import format_micro

KINDS = ["New", "Increase", "Decrease", "Unchanged", "Closed", "Blocked", None]

row = st.fixed_dictionaries(
    {
        "destination": st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)
        .map(str.strip),
        "rate": st.integers(0, 10**9),
        "connect_fee": st.integers(0, 10**7),
        "first_interval": st.integers(1, 3600),
        "next_interval": st.integers(1, 3600),
        "effective_from": st.one_of(st.none(), st.integers(0, 4_000_000_000)),
        "span": st.one_of(st.none(), st.integers(1, 10**8)),
        "change": st.sampled_from(KINDS),
        "decimals": st.integers(0, 6),
    }
)


def money_text(micro: int, decimals: int) -> str:
    """``micro`` written with at least ``decimals`` places (more when the value needs them)."""
    text = format_micro(micro)
    whole, frac = text.split(".")
    frac = frac.rstrip("0").ljust(decimals, "0")
    return f"{whole}.{frac}" if frac else whole


def date_text(epoch: int) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%d") if epoch % 86_400 == 0 else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=30), prefixes=st.data())
def test_canonical_deck_round_trips(rows: list[dict[str, object]], prefixes: st.DataObject) -> None:
    codes = prefixes.draw(
        st.lists(st.text("0123456789", min_size=1, max_size=15).filter(lambda c: not c.startswith("00")),
                 min_size=len(rows), max_size=len(rows), unique=True)
    )
    header = ["prefix", "destination", "rate", "effective_date", "end_date", "first_interval", "next_interval",
              "connect_fee", "change"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "canonical.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(header)
            for code, r in zip(codes, rows, strict=True):
                start = r["effective_from"]
                end = None if start is None or r["span"] is None else start + r["span"]  # type: ignore[operator]
                out.writerow([
                    code, r["destination"], money_text(r["rate"], r["decimals"]),  # type: ignore[arg-type]
                    "" if start is None else date_text(start),  # type: ignore[arg-type]
                    "" if end is None else date_text(end),
                    r["first_interval"], r["next_interval"],
                    money_text(r["connect_fee"], r["decimals"]), r["change"] or "",  # type: ignore[arg-type]
                ])
        frame = read_deck(path).frame
    assert frame["prefix"].to_list() == [c.lstrip("+") for c in codes]
    assert frame["line"].to_list() == list(range(2, len(rows) + 2))
    for got, r in zip(frame.iter_rows(named=True), rows, strict=True):
        start = r["effective_from"]
        assert got["destination"] == r["destination"]
        assert got["rate"] == r["rate"]
        assert got["connect_fee"] == r["connect_fee"]
        assert (got["first_interval"], got["next_interval"]) == (r["first_interval"], r["next_interval"])
        assert got["effective_from"] == start
        expected_end = None if start is None or r["span"] is None else start + r["span"]  # type: ignore[operator]
        assert got["effective_to"] == expected_end
        assert got["change"] == r["change"]


@settings(max_examples=40, deadline=None)
@given(
    codes=st.lists(st.text("0123456789", min_size=1, max_size=9).filter(lambda c: not c.startswith("00")),
                   min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_code_lists_expand_to_their_codes(codes: list[str], data: st.DataObject) -> None:
    """A vendor code cell (list, ';' or ',', spaces, '+', '00', ranges) reads as the codes it names."""
    tokens: list[str] = []
    expected: list[str] = []
    for code in codes:
        if data.draw(st.booleans()) and len(code) >= 2 and code[0] != "0":
            # a short range ending at code: same length, start <= end (E.164 codes never start with 0)
            end = int(code)
            start = max(end - data.draw(st.integers(0, 5)), 10 ** (len(code) - 1))
            tokens.append(f"{start:0{len(code)}d}-{code}")
            expected.extend(f"{n:0{len(code)}d}" for n in range(start, end + 1))
        else:
            prefix = data.draw(st.sampled_from(["", "+", "00"]))
            spaced = " ".join([code[:2], code[2:]]) if len(code) > 3 and data.draw(st.booleans()) else code
            tokens.append(prefix + spaced)
            expected.append(code)
    separator = data.draw(st.sampled_from([", ", ";", "; ", ","]))
    cell = separator.join(tokens)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vendor.csv"
        path.write_text(f'Dial Codes,Rate\n"{cell}",0.01\n', encoding="utf-8")
        frame = read_deck(path).frame
    assert sorted(set(frame["prefix"].to_list())) == sorted(set(expected))


@settings(max_examples=40, deadline=None)
@given(
    days=st.lists(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), min_size=1, max_size=8),
    day_first=st.booleans(),
    separator=st.sampled_from(["/", ".", "-"]),
)
def test_day_and_month_first_dates_read_back(days: list[date], day_first: bool, separator: str) -> None:
    """Dates written day-first or month-first (with one value that proves the order) read back."""
    proof = date(2026, 11, 16)  # day 16 > 12 proves the order either way
    rows = [proof, *days]
    fmt = f"%d{separator}%m{separator}%Y" if day_first else f"%m{separator}%d{separator}%Y"
    body = "".join(f"{1000 + i},0.01,{d.strftime(fmt)}\n" for i, d in enumerate(rows))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dates.csv"
        path.write_text("Code,Rate,Effective\n" + body, encoding="utf-8")
        frame = read_deck(path).frame
    expected = [int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) for d in rows]
    assert frame["effective_from"].to_list() == expected
