"""How numbers, times and text read on an invoice: exact decimal strings, never floats.

Two forms of money: ``money()`` is the machine form (JSON, CSV: the shortest exact decimal
string, the same as ``lcr.api.render.money``), ``shown()`` the printed form (thousands
separators and a fixed number of decimals for a whole column, never rounding a value).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from lcr.money import MICRO, round_div_half_up

MINUTE_DECIMALS = 4


def money(micro: int) -> str:
    """Micro-units as the shortest exact decimal string: ``8900`` -> ``'0.0089'``, ``0`` -> ``'0'``."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def minutes(billed_seconds: int) -> Decimal:
    """Billed seconds / 60, rounded half-up to 4 decimals: ``100`` -> ``Decimal('1.6667')``."""
    scale = 10**MINUTE_DECIMALS
    return Decimal(round_div_half_up(billed_seconds * scale, 60)).scaleb(-MINUTE_DECIMALS)


def minutes_text(billed_seconds: int) -> str:
    """Always 4 decimals: ``60`` -> ``'1.0000'``."""
    return f"{minutes(billed_seconds):.{MINUTE_DECIMALS}f}"


def decimals_needed(micro: int) -> int:
    """How many decimals ``micro`` needs to be written exactly (0-6)."""
    frac = abs(micro) % MICRO
    if frac == 0:
        return 0
    return 6 - (len(str(frac)) - len(str(frac).rstrip("0")))


def column_decimals(values: Iterable[int], *, at_least: int) -> int:
    """Decimals that write every value of a column exactly: at least ``at_least``, at most 6."""
    return max([at_least, *(decimals_needed(v) for v in values)])


def grouped(text: str) -> str:
    """Thousands separators on a plain decimal string: ``'-1234567.5'`` -> ``'-1,234,567.5'``."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def shown(micro: int, decimals: int) -> str:
    """Printed money: ``shown(1234500000, 2)`` -> ``'1,234.50'``. ``decimals`` must be enough to be exact."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    if decimals_needed(micro) > decimals:
        raise ValueError(f"{money(micro)} does not fit in {decimals} decimals")
    digits = f"{frac:06d}"[:decimals]
    return f"{sign}{whole:,}" + (f".{digits}" if decimals else "")


def signed(micro: int, decimals: int) -> str:
    """Printed money with an explicit sign for statements: ``'+250.00'``, ``'-12.30'``, ``'0.00'``."""
    return ("+" if micro > 0 else "") + shown(micro, decimals)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(ts: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz)


def local_iso(ts: int, tz: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset at that instant: ``'2026-03-29T03:30:00+02:00'``."""
    return local_time(ts, tz).isoformat()


def utc_iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SPREADSHEET_TRIGGERS = ("=", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet will not run as a formula (OWASP CSV injection): ``'=cmd'`` -> ``"'=cmd"``.

    A leading ``+`` or ``-`` is kept when the rest is a plain number (``+4420...`` dialled numbers).
    """
    if text.startswith(_SPREADSHEET_TRIGGERS):
        return "'" + text
    if text[:1] in "+-" and text and not text[1:].replace(".", "", 1).isdigit():
        return "'" + text
    return text


def latin_text(text: str, encoding: str = "cp1252") -> str:
    """Text the PDF core fonts can draw: accents outside ``encoding`` are dropped, the rest become ``?``.

    ``'Zürich'`` stays (cp1252 has ü); ``'Łódź'`` -> ``'Lodz'``; ``'Связь'`` -> ``'?????'``.
    """
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode(encoding)
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = unicodedata.normalize("NFKD", ch)
        kept = "".join(c for c in base if not unicodedata.combining(c))
        try:
            kept.encode(encoding)
            out.append(kept or "?")
        except UnicodeEncodeError:
            out.append(_FALLBACK.get(ch, "?"))
    return "".join(out)


_FALLBACK = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "ø": "o", "Ø": "O",
             "\u2212": "-", "\u2010": "-", "\u2011": "-"}
