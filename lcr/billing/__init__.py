"""Invoice documents: the store's facts about a period turned into JSON, CSV and PDF.

Pure: no database, no web. The store decides which calls, payments and balances go on an
invoice and numbers it (``InvoiceFacts``); ``build_invoice`` groups and adds up, exactly, and
the ``Invoice`` writes its three documents::

    facts.py     InvoiceCall, Adjustment, InvoiceFacts   what the store hands over
    invoice.py   build_invoice, Invoice, InvoiceLine     lines, totals, the JSON document
    csvdoc.py    the call detail CSV
    pdfdoc.py    the customer's PDF (fpdf2)
    figures.py   exact decimal strings, minutes, local times
"""

from lcr.billing.facts import DEMO_ISSUER, Adjustment, InvoiceCall, InvoiceFacts
from lcr.billing.invoice import Invoice, InvoiceLine, build_invoice

__all__ = ["DEMO_ISSUER", "Adjustment", "Invoice", "InvoiceCall", "InvoiceFacts", "InvoiceLine", "build_invoice"]
