"""Invoice facts for the tests: a small hand-made invoice and large generated ones."""

from __future__ import annotations

import random
from datetime import date

from lcr.billing import DEMO_ISSUER, Adjustment, InvoiceCall, InvoiceFacts
from lcr.model import Customer
from lcr.money import round_div_half_up

CUSTOMER = Customer(name="Acme Telecom GmbH", timezone="Europe/Berlin", currency="EUR")
# 2026-03-01 00:00 Europe/Berlin (UTC+1) = 2026-02-28T23:00:00Z
MARCH_1 = 1772319600


def call(call_id: str, start: int, dst: str, destination: str, prefix: str, billsec: int, rate: int,
         *, first: int = 1, step: int = 1) -> InvoiceCall:
    """A call rated by the contract's rule (no connect fee)."""
    if billsec == 0:
        billed = 0
    elif billsec <= first:
        billed = first
    else:
        billed = first + -(-(billsec - first) // step) * step
    return InvoiceCall(call_id, start, dst, destination, prefix, billsec, billed, rate,
                       round_div_half_up(billed * rate, 60))


SMALL_CALLS = (
    call("c-001", MARCH_1 + 3600, "4915112345678", "Germany - Mobile", "49151", 95, 45_000),
    call("c-002", MARCH_1 + 7200, "4930123456", "Germany - Fixed", "4930", 61, 8_900, first=60, step=60),
    call("c-003", MARCH_1 + 86400 * 3, "4915112340000", "Germany - Mobile", "49151", 30, 45_000),
    call("c-004", MARCH_1 + 86400 * 5 + 17, "33612345678", "France - Mobile", "336", 241, 52_100),
    call("c-005", MARCH_1 + 86400 * 9, "33612345679", "France - Mobile", "336", 0, 52_100),
    call("c-006", MARCH_1 + 86400 * 12, "447700900123", "United Kingdom - Mobile", "447", 3601, 61_234),
    call("c-007", MARCH_1 + 86400 * 20, "4930987654", "Germany - Fixed", "4930", 7, 9_100, first=60, step=60),
)

SMALL_ADJUSTMENTS = (
    Adjustment("b-998", MARCH_1 - 86400 * 3, "Germany - Mobile", 75_000, 67_500),
    Adjustment("b-999", MARCH_1 - 86400 * 2, "France - Mobile", 10_000, 12_345),
)


def small_facts(**changes: object) -> InvoiceFacts:
    total = sum(c.amount for c in SMALL_CALLS)
    adjust = sum(a.amount for a in SMALL_ADJUSTMENTS)
    values: dict[str, object] = dict(
        number="INV-2026-000007",
        customer=CUSTOMER,
        period_from=date(2026, 3, 1),
        period_to=date(2026, 3, 31),
        issued_at=MARCH_1 + 86400 * 31 + 9 * 3600,
        calls=SMALL_CALLS,
        adjustments=SMALL_ADJUSTMENTS,
        balance_brought_forward=-12_500_000,
        payments=20_000_000,
        balance_carried=-12_500_000 + 20_000_000 - total - adjust,
        issuer=DEMO_ISSUER,
    )
    values.update(changes)
    return InvoiceFacts(**values)  # type: ignore[arg-type]


_COUNTRIES = ("Afghanistan", "Albania", "Algeria", "Argentina", "Australia", "Austria", "Belgium", "Brazil",
              "Bulgaria", "Canada", "Chile", "China", "Colombia", "Croatia", "Czech Republic", "Denmark", "Egypt",
              "Estonia", "Finland", "France", "Germany", "Greece", "Hungary", "India", "Indonesia", "Ireland",
              "Israel", "Italy", "Japan", "Kenya", "Latvia", "Lithuania", "Mexico", "Morocco", "Netherlands",
              "Nigeria", "Norway", "Pakistan", "Peru", "Poland", "Portugal", "Romania", "Serbia", "Slovakia",
              "Slovenia", "Spain", "Sweden", "Switzerland", "Turkey", "Ukraine")
_KINDS = ("Fixed", "Mobile", "Mobile - Premium Operator Range", "Special Services", "Satellite", "Proper")


def large_facts(n_calls: int, n_destinations: int, seed: int = 7) -> InvoiceFacts:
    rng = random.Random(seed)
    dests = []
    for i in range(n_destinations):
        country = _COUNTRIES[i % len(_COUNTRIES)]
        kind = _KINDS[(i // len(_COUNTRIES)) % len(_KINDS)]
        suffix = f" {i // (len(_COUNTRIES) * len(_KINDS)) + 1}" if i >= len(_COUNTRIES) * len(_KINDS) else ""
        dests.append((f"{country} - {kind}{suffix}", f"{100 + i}", rng.randrange(1_000, 400_000)))
    calls = []
    for n in range(n_calls):
        name, prefix, rate = dests[n % n_destinations] if n < n_destinations else rng.choice(dests)
        billsec = rng.choice((0, rng.randrange(1, 30), rng.randrange(30, 900), rng.randrange(900, 7200)))
        start = MARCH_1 + rng.randrange(0, 31 * 86400)
        some_rate = rate + (n % 21 == 0)  # a few calls at another rate: those lines show "various"
        dst = f"{prefix}{rng.randrange(10**7):07d}"
        calls.append(call(f"call-{n:06d}", start, dst, name, prefix, billsec, some_rate))
    total = sum(c.amount for c in calls)
    return small_facts(calls=tuple(calls), adjustments=SMALL_ADJUSTMENTS,
                       balance_carried=-12_500_000 + 20_000_000 - total - sum(a.amount for a in SMALL_ADJUSTMENTS))
