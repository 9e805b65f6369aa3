"""Why a side of a call is unrated: stable strings, stored with the call and shown to billing.

Checked in this order, the first that applies wins:

    bad field dst          the number is empty, not digits after normalisation, or > 32 digits
    bad field start_time   no start time
    bad field billsec      no billsec, or a negative one
    no customer            (sell side) the CDR names no customer
    no sell rate           (sell side) the customer's deck has no code in force for the number
                           (a customer without any deck gets this too)
    no carrier             (buy side) the CDR names no carrier: the cost side stays unrated
    unknown carrier        (buy side) the carrier has no deck at all (e.g. a switch peer name
                           that is not a carrier)
    no buy rate            (buy side) the carrier's deck has no code in force for the number

A field problem makes both sides unrated with the same reason.
"""

from __future__ import annotations

NO_CUSTOMER = "no customer"
NO_SELL_RATE = "no sell rate"
NO_CARRIER = "no carrier"
UNKNOWN_CARRIER = "unknown carrier"
NO_BUY_RATE = "no buy rate"

FIELDS = ("dst", "start_time", "billsec")


def bad_field(name: str) -> str:
    return f"bad field {name}"


ALL = (NO_CUSTOMER, NO_SELL_RATE, NO_CARRIER, UNKNOWN_CARRIER, NO_BUY_RATE, *(bad_field(f) for f in FIELDS))
