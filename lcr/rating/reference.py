"""Call-by-call rating in plain Python: the obviously correct reference for ``rate_batch``.

Slow on purpose (a linear scan of the owner's whole deck per call); use it for one call, for
tests and for explaining a charge, never for a batch. The rules are the contract's "Rating
rules", applied separately to the customer's sell deck and the carrier's buy deck:

1. the number is normalised: the customer's tech prefix is stripped when the number as
   received starts with it, then one leading ``+``, ``00`` or ``011``; what is left must be
   1 to 32 digits;
2. the rate is the version in force at ``start_time`` (``effective_from <= t < effective_to``)
   with the longest prefix of that number; a closed code is not in force, so a shorter prefix
   of the same owner may then match (if an owner's versions of a code overlap, which decks
   should not allow, the latest-starting one is the code's state: see ``rate_in_force``);
3. ``billsec == 0`` costs 0 (no connect fee); otherwise the billed seconds are
   ``first`` when ``billsec <= first``, else ``first + ceil((billsec - first) / next) * next``,
   and the amount is ``connect_fee + round_half_up(billed * rate / 60)`` in micro-units
   (``billsec`` decides, not ``disposition``: the switch's talk time is what is billed);
4. a code marked ``blocked`` still rates the call (the call happened and must be paid for)
   and the result is flagged ``blocked=True`` for the NOC to look at;
5. a side without a rate is unrated with a reason (see ``lcr.rating.reasons``), never charged.
   Field problems are checked first, then the party, then the rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lcr.model import Cdr, Rate
from lcr.money import round_div_half_up
from lcr.rating import reasons

MAX_DIGITS = 32
FOREVER = 2**63 - 1  # an open end, for ordering


def normalise_number(number: str | None, tech_prefix: str = "") -> str | None:
    """The digits a deck is matched against, or None when the number is malformed."""
    if number is None:
        return None
    n = number
    if tech_prefix and n.startswith(tech_prefix):
        n = n[len(tech_prefix) :]
    for lead in ("+", "00", "011"):
        if n.startswith(lead):
            n = n[len(lead) :]
            break
    if not n or len(n) > MAX_DIGITS or not n.isascii() or not n.isdigit():
        return None
    return n


def billed_seconds(billsec: int, first_interval: int, next_interval: int) -> int:
    """Seconds charged for ``billsec`` seconds of talk under ``first/next`` increments."""
    if billsec <= 0:
        return 0
    if billsec <= first_interval:
        return first_interval
    steps = -(-(billsec - first_interval) // next_interval)  # ceil division
    return first_interval + steps * next_interval


def call_amount(billsec: int, rate: Rate) -> tuple[int, int]:
    """``(billed_seconds, amount_micro)`` of one call at one rate; 0 seconds cost nothing."""
    if billsec <= 0:
        return 0, 0
    billed = billed_seconds(billsec, rate.first_interval, rate.next_interval)
    return billed, rate.connect_fee + round_div_half_up(billed * rate.rate, 60)


def version_order(rate: Rate) -> tuple[int, int, int]:
    """Which of two versions of a code supersedes the other: the later start (then the later
    end, then the higher rate; only overlapping versions, which decks should not hold, tie)."""
    return (rate.effective_from, FOREVER if rate.effective_to is None else rate.effective_to, rate.rate)


def rate_in_force(rates: Iterable[Rate], number: str, at: int) -> Rate | None:
    """The longest-prefix version of ``number`` in force at ``at``, by a plain scan.

    A code's state at ``at`` is its latest version started by then (``version_order``): a new
    version supersedes the older ones, so if that version has ended the code is closed, even
    if an older, overlapping version has not. Decks are meant to hold no overlaps; this rule
    only makes the answer deterministic when one slips through.
    """
    current: dict[str, Rate] = {}
    for r in rates:
        if r.effective_from <= at and number.startswith(r.prefix):
            held = current.get(r.prefix)
            if held is None or version_order(r) > version_order(held):
                current[r.prefix] = r
    live = [r for r in current.values() if r.in_force(at)]
    return max(live, key=lambda r: len(r.prefix), default=None)


@dataclass(frozen=True, slots=True)
class SideRating:
    """One side (sell or buy) of a rated call; ``reason`` is set exactly when it is unrated."""

    prefix: str | None = None
    destination: str | None = None
    rate: int | None = None  # micro-units per minute
    billed: int | None = None  # seconds
    amount: int | None = None  # micro-units
    blocked: bool | None = None
    reason: str | None = None

    @property
    def rated(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class RatedCall:
    call_id: str
    sell: SideRating
    buy: SideRating

    @property
    def margin(self) -> int | None:
        """Sell amount - buy amount; None when either side is unrated."""
        if self.sell.amount is None or self.buy.amount is None:
            return None
        return self.sell.amount - self.buy.amount


def _bad_field(cdr: Cdr, number: str | None) -> str | None:
    if number is None:
        return reasons.bad_field("dst")
    if not isinstance(cdr.start_time, int):
        return reasons.bad_field("start_time")
    if not isinstance(cdr.billsec, int) or cdr.billsec < 0:
        return reasons.bad_field("billsec")
    return None


def _side(
    cdr: Cdr, number: str | None, deck: Sequence[Rate] | None, bad: str | None, no_rate: str
) -> SideRating:
    if bad is not None:
        return SideRating(reason=bad)
    assert number is not None
    found = rate_in_force(deck or (), number, cdr.start_time)
    if found is None:
        return SideRating(reason=no_rate)
    billed, amount = call_amount(cdr.billsec, found)
    return SideRating(found.prefix, found.destination, found.rate, billed, amount, found.blocked)


def rate_call(
    cdr: Cdr,
    sell_rates: Mapping[str, Sequence[Rate]],
    buy_rates: Mapping[str, Sequence[Rate]],
    *,
    tech_prefixes: Mapping[str, str] | None = None,
) -> RatedCall:
    """Rate one call against every version of the customers' and carriers' decks.

    ``sell_rates`` maps a customer name to all versions of its codes, ``buy_rates`` a carrier
    name to its codes; ``tech_prefixes`` maps a customer to its tech prefix.
    """
    tech = (tech_prefixes or {}).get(cdr.customer or "", "")
    number = normalise_number(cdr.dst, tech)
    bad = _bad_field(cdr, number)

    if bad is not None:
        sell = SideRating(reason=bad)
    elif not cdr.customer:
        sell = SideRating(reason=reasons.NO_CUSTOMER)
    else:
        sell = _side(cdr, number, sell_rates.get(cdr.customer), None, reasons.NO_SELL_RATE)

    if bad is not None:
        buy = SideRating(reason=bad)
    elif not cdr.carrier:
        buy = SideRating(reason=reasons.NO_CARRIER)
    elif cdr.carrier not in buy_rates:
        buy = SideRating(reason=reasons.UNKNOWN_CARRIER)
    else:
        buy = _side(cdr, number, buy_rates[cdr.carrier], None, reasons.NO_BUY_RATE)
    return RatedCall(cdr.call_id, sell, buy)


def rates_by_owner(frame: object) -> dict[str, list[Rate]]:
    """Group a rate frame (the ``rate_batch`` shape, with ``owner``) into ``Rate`` lists."""
    out: dict[str, list[Rate]] = {}
    for row in frame.iter_rows(named=True):  # type: ignore[attr-defined]
        out.setdefault(row["owner"], []).append(
            Rate(
                prefix=row["prefix"],
                destination=row["destination"],
                rate=row["rate"],
                effective_from=row["effective_from"],
                effective_to=row["effective_to"],
                first_interval=row["first_interval"],
                next_interval=row["next_interval"],
                connect_fee=row["connect_fee"],
                blocked=bool(row["blocked"]),
            )
        )
    return out
