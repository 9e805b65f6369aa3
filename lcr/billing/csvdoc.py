"""The invoice's call detail as CSV: one row per call, one per adjustment, then the totals.

Columns: ``call_id, start_time, dst, destination, prefix, billsec, billed_seconds, rate, amount,
record, old_amount, new_amount``. ``record`` is ``call``, ``adjustment``, ``adjustments_total``
(only when there are adjustments) or ``total`` (last row: the period's call charges, the
contract's ``total``). Start times are ISO 8601 in the customer's time zone with its offset;
money is the shortest exact decimal string, as in the JSON. An adjustment row's ``amount`` is
``new_amount - old_amount``. Text that a spreadsheet would run as a formula gets a leading
``'``. Rows end with ``\\r\\n`` (RFC 4180), so a field holding a line break is quoted.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from lcr.billing.figures import local_iso, money, spreadsheet_safe, zone

if TYPE_CHECKING:
    from lcr.billing.invoice import Invoice

COLUMNS = ("call_id", "start_time", "dst", "destination", "prefix", "billsec", "billed_seconds", "rate",
           "amount", "record", "old_amount", "new_amount")


def invoice_csv(invoice: Invoice) -> str:
    tz = zone(invoice.facts.customer.timezone)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    s = spreadsheet_safe
    for c in invoice.calls:
        w.writerow([s(c.call_id), local_iso(c.start_time, tz), s(c.dst), s(c.destination), s(c.prefix), c.billsec,
                    c.billed_seconds, money(c.rate), money(c.amount), "call", "", ""])
    for a in invoice.adjustments:
        w.writerow([s(a.call_id), local_iso(a.start_time, tz), "", s(a.destination), "", "", "", "",
                    money(a.amount), "adjustment", money(a.old_amount), money(a.new_amount)])
    if invoice.adjustments:
        w.writerow(["", "", "", "", "", "", "", "", money(invoice.adjustments_total), "adjustments_total", "", ""])
    w.writerow(["", "", "", "", "", sum(c.billsec for c in invoice.calls), invoice.billed_seconds, "",
                money(invoice.total), "total", "", ""])
    return out.getvalue()
