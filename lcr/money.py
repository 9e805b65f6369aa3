"""Exact money: amounts are integer micro-units (1 unit = 1,000,000 micro-units), never float.

Rates are per minute with at most 6 decimals, so a rate is an exact integer in micro-units.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICRO = 1_000_000
_DECIMAL = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?$")


def parse_micro(text: str, *, max_decimals: int = 6) -> int:
    """``'0.0123'`` -> ``12300``. Raises ValueError naming the text when it is not exact."""
    s = text.strip()
    m = _DECIMAL.match(s)
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(f"{text!r} is not a number")
    sign, whole, frac = m.group(1), m.group(2) or "0", (m.group(3) or "")
    frac = frac.rstrip("0")
    if len(frac) > max_decimals:
        raise ValueError(f"{text!r} has more than {max_decimals} decimals")
    value = int(whole) * MICRO + int(frac.ljust(6, "0") or "0")
    return -value if sign == "-" else value


def to_micro(value: Decimal | int | str) -> int:
    """Exact conversion of a Decimal/int/str amount to micro-units; more than 6 decimals is an error."""
    if isinstance(value, int):
        return value * MICRO
    if isinstance(value, str):
        return parse_micro(value)
    try:
        scaled = value * MICRO
    except InvalidOperation as exc:  # pragma: no cover - Decimal of NaN etc.
        raise ValueError(f"{value!r} is not a number") from exc
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than 6 decimals")
    return int(scaled)


def format_micro(micro: int, *, decimals: int = 6) -> str:
    """``12300`` -> ``'0.012300'`` (``decimals`` places, half-up if fewer than 6)."""
    d = Decimal(micro) / MICRO
    q = Decimal(1).scaleb(-decimals)
    return str(d.quantize(q, rounding=ROUND_HALF_UP))


def micro_to_decimal(micro: int) -> Decimal:
    return (Decimal(micro) / MICRO).quantize(Decimal("0.000001"))


def round_div_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero (for non-negative money: half-up)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((2 * -numerator + denominator) // (2 * denominator))
