"""Batch rating equals call-by-call rating, on hand-made cases and on random decks."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcr.model import Cdr
from lcr.rating import reasons
from lcr.rating.batch import OUTPUT_COLUMNS, rate_batch, rate_compiled
from lcr.rating.deck import OWNED_RATE_SCHEMA, compile_deck
from lcr.rating.reference import RatedCall, rate_call, rates_by_owner

CDR_SCHEMA = {
    "call_id": pl.String,
    "customer": pl.String,
    "carrier": pl.String,
    "dst": pl.String,
    "start_time": pl.Int64,
    "billsec": pl.Int64,
}


def rate_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=OWNED_RATE_SCHEMA, orient="row")


def cdr_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=CDR_SCHEMA, orient="row")


def expected(cdrs: pl.DataFrame, sell: pl.DataFrame, buy: pl.DataFrame, tech: dict[str, str]) -> list[dict]:
    s, b = rates_by_owner(sell), rates_by_owner(buy)
    out = []
    for row in cdrs.iter_rows(named=True):
        cdr = Cdr(src="", answer_time=None, end_time=None, disposition="", **row)
        out.append(_flatten(rate_call(cdr, s, b, tech_prefixes=tech)))
    return out


def _flatten(r: RatedCall) -> dict:
    d: dict = {}
    for side, x in (("sell", r.sell), ("buy", r.buy)):
        d |= {
            f"{side}_prefix": x.prefix,
            f"{side}_destination": x.destination,
            f"{side}_rate": x.rate,
            f"{side}_billed": x.billed,
            f"{side}_amount": x.amount,
            f"{side}_blocked": x.blocked,
            f"{side}_reason": x.reason,
        }
    del d["buy_destination"]  # the batch names the sell destination only
    d["margin"] = r.margin
    return d


def check(
    cdrs: pl.DataFrame,
    sell: pl.DataFrame,
    buy: pl.DataFrame,
    tech: dict[str, str] | None = None,
    *,
    ranked: bool | None = None,
) -> None:
    if ranked is None:
        got = rate_batch(cdrs, sell, buy, tech_prefixes=tech)
    else:  # keys ranked among the breakpoints and destinations folded into the tariffs (the
        # layouts for long prefixes and many owners, and for tens of millions of codes)
        sd, bd = (compile_deck(r, ranked=ranked, folded=ranked) for r in (sell, buy))
        got = rate_compiled(cdrs, sd, bd, tech_prefixes=tech)
    assert got.columns == [*cdrs.columns, *OUTPUT_COLUMNS]
    assert got.schema == {**cdrs.schema, **OUTPUT_COLUMNS}
    assert got.select(cdrs.columns).equals(cdrs)  # CDRs unchanged, same order
    assert got.select(list(OUTPUT_COLUMNS)).to_dicts() == expected(cdrs, sell, buy, tech or {})


DAY = 86_400
SELL = rate_frame(
    [
        ("globex", "49", "Germany", 20_000, 0, None, False, 1, 1, 0),
        ("globex", "4915", "Germany mobile", 90_000, 0, DAY, False, 60, 60, 0),  # closed at DAY
        ("globex", "4915", "Germany mobile", 95_000, 2 * DAY, None, False, 60, 60, 0),  # reopened
        ("globex", "1", "USA", 5_000, 0, None, True, 6, 6, 1_000),  # blocked
        ("initech", "33", "France", 12_345, 0, None, False, 30, 6, 0),
    ]
)
BUY = rate_frame(
    [
        ("acme", "49", "DE", 10_000, 0, None, False, 60, 60, 0),
        ("acme", "4915", "DE mob", 80_000, 0, None, False, 1, 1, 0),
        ("acme", "490", "DE special", 70_000, 0, None, False, 1, 1, 0),
        ("delta", "1212", "NY", 2_000, DAY, None, False, 6, 6, 0),
    ]
)


def test_hand_made_cases() -> None:
    cdrs = cdr_frame(
        [
            ("a", "globex", "acme", "+4915123", DAY - 1, 61),  # longest code before it closes
            ("b", "globex", "acme", "004915123", DAY, 61),  # closed: 49 on the sell side
            ("c", "globex", "acme", "4915123", 2 * DAY, 61),  # the reopened version
            ("d", "globex", "delta", "0111212555", DAY, 7),  # blocked sell code, buy in force
            ("e", "globex", "delta", "1212555", DAY - 1, 7),  # buy code not yet in force
            ("f", None, "acme", "49", 0, 0),  # no customer
            ("g", "globex", None, "49", 0, 0),  # no carrier
            ("h", "globex", "zeta", "49", 0, 0),  # unknown carrier
            ("i", "globex", "acme", "4", 0, 10),  # shorter than every prefix
            ("j", "globex", "acme", "00", 0, 10),  # bad number
            ("k", "globex", "acme", "49", None, 10),  # no start
            ("l", "globex", "acme", "49", 0, -5),  # negative billsec
            ("m", "initech", "acme", "33612", 0, 31),  # 30/6
            ("n", "globex", "acme", "1" * 30, DAY, 1),  # long number
            ("o", "globex", "acme", "49", 0, 1),  # 490 covers "49" padded with 0s: not a match
        ]
    )
    check(cdrs, SELL, BUY)
    got = rate_batch(cdrs, SELL, BUY)
    row = got.row(1, named=True)
    assert (row["sell_prefix"], row["sell_amount"], row["buy_prefix"], row["margin"]) == ("49", 20_333, "4915", -61_000)
    assert got["sell_blocked"][3] is True
    assert got["buy_reason"].to_list()[5:8] == [None, reasons.NO_CARRIER, reasons.UNKNOWN_CARRIER]


def test_overlapping_versions_latest_start_wins() -> None:
    """Decks should not overlap; when they do, the batch and the reference agree on the rule."""
    sell = rate_frame(
        [
            ("globex", "1268", "Antigua", 300_000, 0, None, False, 1, 1, 0),
            ("globex", "1268", "USA 268", 9_800, 100, None, False, 1, 1, 0),
            ("globex", "44", "UK", 5_000, 0, None, False, 1, 1, 0),
            ("globex", "44", "UK", 6_000, 100, 200, False, 1, 1, 0),  # superseding, then ended
            ("globex", "4", "Zone 4", 1_000, 0, None, False, 1, 1, 0),
            ("globex", "33", "FR a", 7_000, 0, None, False, 1, 1, 0),
            ("globex", "33", "FR b", 8_000, 0, None, False, 1, 1, 0),  # same start: higher rate
        ]
    )
    cdrs = cdr_frame(
        [
            ("a", "globex", None, "1268555", 50, 60),
            ("b", "globex", None, "1268555", 150, 60),
            ("c", "globex", None, "44207", 150, 60),
            ("d", "globex", None, "44207", 250, 60),  # the superseding version ended: closed
            ("e", "globex", None, "33612", 0, 60),
        ]
    )
    check(cdrs, sell, BUY)
    got = rate_batch(cdrs, sell, BUY)
    assert got["sell_rate"].to_list() == [300_000, 9_800, 6_000, 1_000, 8_000]


def test_negative_rates_round_half_away_from_zero() -> None:
    """A rebate (a negative rate) is rounded like ``money.round_div_half_up``: -0.5 gives -1."""
    sell = rate_frame(
        [
            ("globex", "49", "Germany", -30, 0, None, False, 1, 1, 0),  # 1 s: -0.5 micro
            ("globex", "33", "France", -29, 0, None, False, 1, 1, 7),  # 1 s: -0.48 micro
            ("globex", "44", "UK", -90, 0, None, False, 1, 1, 0),  # 1 s: -1.5 micro
            ("globex", "39", "Italy", 30, 0, None, False, 1, 1, 0),  # 1 s: +0.5 micro
        ]
    )
    cdrs = cdr_frame([(f"c{i}", "globex", None, n, 0, 1) for i, n in enumerate(["491", "331", "441", "391"])])
    check(cdrs, sell, BUY)
    assert rate_batch(cdrs, sell, BUY)["sell_amount"].to_list() == [-1, 7, -2, 1]


def test_long_prefixes_of_many_owners() -> None:
    """18-digit prefixes over more than 9 owners do not fit ``owner * 10**18`` in an Int64:
    the keys are ranked instead, with the same answers."""
    long = "4915" + "7" * 14
    sell = rate_frame(
        [(f"c{i:02}", p, f"d{p}", 1_000 * (i + 1), 0, None, False, 1, 1, 0) for i in range(12) for p in ("49", long)]
    )
    buy = rate_frame([(f"k{i:02}", long[: 10 + i % 9], "x", 500, 0, None, False, 6, 6, 0) for i in range(12)])
    cdrs = cdr_frame(
        [
            (f"c{i}", f"c{i % 12:02}", f"k{i % 12:02}", number, 0, 61)
            for i, number in enumerate([long, long + "12345", "+" + long[:-1], long[:12] + "0" * 20, "49"] * 5)
        ]
    )
    assert compile_deck(sell).bounds.len() > 0  # ranked: 12 * 10**18 > 2**63
    check(cdrs, sell, buy)


def test_numbers_read_by_the_integer_parse_and_by_the_regex() -> None:
    """Most numbers are read by one integer parse; signs, zeros, and numbers longer than a key
    (or too long for an Int64 with their lead) are read the slow way, with the same answers."""
    numbers = [
        "4915123",  # parsed
        "+4915123",  # parsed: the "+" is the parser's sign
        "0114915123",  # parsed: the value modulo 10**digits drops "011"
        "004915123",  # parsed: "00" adds nothing to the value
        "+004915123",  # "+" then "0049...": the digits keep their zeros
        "-4915123",  # negative: malformed
        "-0",  # zero with a sign: malformed
        "+-49",  # malformed
        "0",  # zero: read the slow way, a 1-digit number
        "+0",
        "00",  # the lead alone: malformed
        "011",
        "0110",
        "49" + "1" * 16,  # 18 digits: parsed
        "49" + "1" * 17,  # 19 digits: longer than a key
        "011" + "49" + "1" * 15,  # 17 digits after "011": parsed
        "011" + "49" + "1" * 16,  # 18 digits after "011": the value overflows an Int64
        "+" + "0" * 20 + "49",  # 22 digits, mostly zeros: the parse reads them, the slow way cuts them
        "49" + "1" * 30,  # 32 digits: the longest number
        "49" + "1" * 31,  # 33 digits: too long
        "4915123 ",  # a space: malformed
        "",
    ]
    sell = rate_frame([*SELL.rows(), ("globex", "0", "Zero", 1_000, 0, None, False, 1, 1, 0)])
    check(cdr_frame([(f"c{i}", "globex", "acme", n, DAY - 1, 61) for i, n in enumerate(numbers)]), sell, BUY)


def test_tech_prefix_is_stripped_first() -> None:
    cdrs = cdr_frame([("a", "globex", "acme", "77#4915123", DAY - 1, 60), ("b", "initech", "acme", "77#33", 0, 1)])
    check(cdrs, SELL, BUY, {"globex": "77#"})


def test_empty_inputs() -> None:
    check(cdr_frame([]), SELL, BUY)
    check(cdr_frame([("a", "globex", "acme", "49", 0, 1)]), rate_frame([]), rate_frame([]))


# Random decks: owners "o0".."o2", prefixes over a small alphabet so they nest, versions of a
# code back to back or with gaps (closed codes), some open-ended.
TIMES = [0, 100, 200, 300, 400]
# "0" and "1" often: a number padded with "0"s must not match a longer prefix
digits = st.one_of(st.text(alphabet="1203", min_size=1, max_size=4), st.text(alphabet="10", min_size=1, max_size=3))
rate_values = st.one_of(st.integers(0, 3_000_000), st.sampled_from([1, 30, 123_457, 999_999]))


@st.composite
def decks(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    codes = draw(st.lists(st.tuples(st.sampled_from(["o0", "o1", "o2"]), digits), max_size=12, unique=True))
    for owner, prefix in codes:
        bounds = sorted(draw(st.lists(st.sampled_from(TIMES), min_size=1, max_size=4, unique=True)))
        open_end = draw(st.booleans())
        for i, start in enumerate(bounds):
            end = bounds[i + 1] if i + 1 < len(bounds) else None
            if end is None and not open_end:
                end = start + 50
            if end is not None and draw(st.booleans()):  # a gap: closed for a while
                end = start + (end - start) // 2
            rows.append(
                (
                    owner, prefix, f"d{prefix}", draw(rate_values), start, end, draw(st.booleans()),
                    draw(st.sampled_from([0, 1, 6, 30, 60])), draw(st.sampled_from([1, 6, 60])),
                    draw(st.sampled_from([0, 0, 1, 50_000])),
                )
            )
    return rate_frame(rows)


@st.composite
def cdrs(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    for i in range(draw(st.integers(0, 25))):
        lead = draw(st.sampled_from(["", "", "+", "00", "011", "x", "-"]))
        body = st.one_of(st.text(alphabet="01234", max_size=7), st.text(alphabet="10", min_size=1, max_size=3))
        number = lead + draw(body)
        at = draw(st.one_of(st.sampled_from(TIMES), st.integers(-10, 500), st.sampled_from([t - 1 for t in TIMES])))
        billsec = draw(st.one_of(st.sampled_from([0, 1, 6, 7, 30, 31, 60, 61]), st.integers(-1, 100_000)))
        who = st.sampled_from(["o0", "o1", "o2", "o9", "", None])
        rows.append((f"c{i}", draw(who), draw(who), number, draw(st.one_of(st.just(at), st.none())), billsec))
    return cdr_frame(rows)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cdrs(), decks(), decks())
def test_batch_equals_reference(calls: pl.DataFrame, sell: pl.DataFrame, buy: pl.DataFrame) -> None:
    check(calls, sell, buy)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cdrs(), decks(), decks())
def test_batch_with_ranked_keys_equals_reference(calls: pl.DataFrame, sell: pl.DataFrame, buy: pl.DataFrame) -> None:
    check(calls, sell, buy, ranked=True)


def test_rating_is_pure() -> None:
    """``lcr.rating`` imports no database, web, socket or asyncio code."""
    forbidden = {"sqlalchemy", "fastapi", "starlette", "socket", "asyncio", "httpx", "lcr.store", "lcr.api", "lcr.sip"}
    root = Path(__file__).resolve().parents[2] / "lcr" / "rating"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (path, name)
