"""Dialled-number normalisation, the first step of every route lookup."""

from __future__ import annotations

from lcr.errors import MalformedNumber

MAX_DIGITS = 32


def normalise(number: str, tech_prefix: str = "") -> str:
    """The digits routing matches on.

    First the customer's ``tech_prefix`` is stripped when the number as received starts with
    it, then ONE leading ``+``, ``00`` or ``011``. What is left must be 1-32 ASCII digits, else
    ``MalformedNumber`` (400)::

        normalise("+442079460000")            -> "442079460000"
        normalise("8801011442079460000", "8801") -> "442079460000"
        normalise("+0044...")                 -> "0044..." (only one international prefix)
    """
    n = number
    if tech_prefix and n.startswith(tech_prefix):
        n = n[len(tech_prefix) :]
    if n.startswith("+"):
        n = n[1:]
    elif n.startswith("00"):
        n = n[2:]
    elif n.startswith("011"):
        n = n[3:]
    if n.isdigit() and n.isascii() and len(n) <= MAX_DIGITS:
        return n
    raise MalformedNumber(f"{number!r} is not a dialable number (1-{MAX_DIGITS} digits after normalisation)")
