"""The call-by-call rules, case by case, and their properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lcr.model import Cdr, Rate
from lcr.rating import reasons
from lcr.rating.reference import billed_seconds, call_amount, normalise_number, rate_call

DAY = 86_400


@pytest.mark.parametrize(
    ("billsec", "first", "nxt", "billed"),
    [
        (0, 60, 60, 0),  # unanswered: nothing billed
        (1, 1, 1, 1),  # per-second
        (1, 60, 60, 60),  # minimum first interval
        (60, 60, 60, 60),  # exactly the first interval
        (61, 60, 60, 120),  # one second into the next block
        (61, 60, 1, 61),  # 60/1
        (31, 30, 6, 36),  # 30/6: first + one 6 s step
        (37, 30, 6, 42),  # 30/6: ceil(7/6) = 2 steps
        (7, 0, 6, 12),  # 0/6: no first block
    ],
)
def test_billed_seconds(billsec: int, first: int, nxt: int, billed: int) -> None:
    assert billed_seconds(billsec, first, nxt) == billed


def _rate(rate: int, first: int = 1, nxt: int = 1, fee: int = 0, prefix: str = "49") -> Rate:
    return Rate(prefix, "X", rate, 0, None, first, nxt, fee)


@pytest.mark.parametrize(
    ("billsec", "rate", "amount"),
    [
        (0, _rate(10_000, fee=50_000), 0),  # billsec 0: no connect fee either
        (60, _rate(10_000), 10_000),  # one minute at 0.01
        (1, _rate(10_000), 167),  # 166.67 -> 167 (half-up)
        (1, _rate(30), 1),  # 0.5 micro -> 1 (half-up, exact tie)
        (1, _rate(29), 0),  # 0.4833 -> 0
        (61, _rate(123_456, 60, 60), 246_912),  # 2 minutes
        (1, _rate(10_000, fee=50_000), 50_167),  # connect fee + 1 s
        (37, _rate(1, 30, 6), 1),  # 42 s * 0.000001 / 60 = 0.7 micro -> 1
    ],
)
def test_call_amount(billsec: int, rate: Rate, amount: int) -> None:
    assert call_amount(billsec, rate)[1] == amount


@pytest.mark.parametrize(
    ("number", "tech", "normalised"),
    [
        ("+4915123", "", "4915123"),
        ("004915123", "", "4915123"),
        ("0114915123", "", "4915123"),
        ("+004915", "", "004915"),  # only one lead is stripped
        ("99#4915", "99#", "4915"),  # tech prefix first
        ("00", "", None),  # nothing left
        ("49 15", "", None),  # not digits
        ("", "", None),
        ("1" * 33, "", None),  # longer than 32 digits
        ("1" * 32, "", "1" * 32),
    ],
)
def test_normalise_number(number: str, tech: str, normalised: str | None) -> None:
    assert normalise_number(number, tech) == normalised


def _cdr(**kw: object) -> Cdr:
    base: dict[str, object] = dict(
        call_id="c", customer="globex", carrier="acme", src="1", dst="4915123", start_time=DAY,
        answer_time=DAY, end_time=DAY + 60, billsec=60, disposition="ANSWERED",
    )
    base.update(kw)
    return Cdr(**base)  # type: ignore[arg-type]


SELL = {"globex": [Rate("49", "DE", 20_000, 0), Rate("4915", "DE mob", 90_000, 0, DAY)]}
BUY = {"acme": [Rate("49", "DE", 10_000, 0, None, 60, 60), Rate("4915", "DE mob", 80_000, 0, None, 1, 1, 0, True)]}


@pytest.mark.parametrize(
    ("cdr", "sell", "buy", "margin"),
    [
        # 4915 closed at DAY on the sell side: the shorter 49 rates it; the buy code is blocked
        (_cdr(), ("49", 20_000, None), ("4915", 80_000, None), -60_000),
        # before the close the longer code wins
        (_cdr(start_time=DAY - 1), ("4915", 90_000, None), ("4915", 80_000, None), 10_000),
        (_cdr(customer=None), (None, None, reasons.NO_CUSTOMER), ("4915", 80_000, None), None),
        (_cdr(customer="initech"), (None, None, reasons.NO_SELL_RATE), ("4915", 80_000, None), None),
        (_cdr(carrier=""), ("49", 20_000, None), (None, None, reasons.NO_CARRIER), None),
        (_cdr(carrier="zeta"), ("49", 20_000, None), (None, None, reasons.UNKNOWN_CARRIER), None),
        (_cdr(dst="3312"), (None, None, reasons.NO_SELL_RATE), (None, None, reasons.NO_BUY_RATE), None),
        (_cdr(dst="+49x"), (None, None, "bad field dst"), (None, None, "bad field dst"), None),
        (_cdr(billsec=-1), (None, None, "bad field billsec"), (None, None, "bad field billsec"), None),
        (_cdr(start_time=-1), (None, None, reasons.NO_SELL_RATE), (None, None, reasons.NO_BUY_RATE), None),
    ],
)
def test_rate_call(cdr: Cdr, sell: tuple, buy: tuple, margin: int | None) -> None:
    rated = rate_call(cdr, SELL, BUY)
    assert (rated.sell.prefix, rated.sell.rate, rated.sell.reason) == sell
    assert (rated.buy.prefix, rated.buy.rate, rated.buy.reason) == buy
    assert rated.margin == margin


def test_blocked_code_is_rated_and_flagged() -> None:
    rated = rate_call(_cdr(), SELL, BUY)
    assert rated.buy.blocked is True and rated.buy.amount == 80_000
    assert rated.sell.blocked is False


rates = st.builds(
    _rate,
    rate=st.integers(0, 5_000_000),
    first=st.integers(0, 120),
    nxt=st.integers(1, 120),
    fee=st.integers(0, 100_000),
)


@given(rates, st.integers(0, 10_000), st.integers(0, 10_000))
def test_cost_never_falls_as_billsec_grows(rate: Rate, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert call_amount(lo, rate)[1] <= call_amount(hi, rate)[1]


@given(rates, st.integers(1, 10_000))
def test_billed_seconds_respect_the_increments(rate: Rate, billsec: int) -> None:
    billed = billed_seconds(billsec, rate.first_interval, rate.next_interval)
    assert billed >= billsec
    assert billed >= rate.first_interval
    if billsec > rate.first_interval:
        assert (billed - rate.first_interval) % rate.next_interval == 0
        assert billed - billsec < rate.next_interval  # never a whole spare increment
    else:
        assert billed == rate.first_interval
