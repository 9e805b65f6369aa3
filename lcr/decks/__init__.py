"""Reading vendor rate decks: any deck file to one canonical Polars frame (pure: no database, no web).

    from lcr.decks import read_deck
    parsed = read_deck("acme_notice.csv")            # auto-detection
    parsed = read_deck("delta.csv", profile="delta_intrastate", profiles_dir=Path("ratedecks/profiles"))

``parsed.frame`` has one row per code with the columns and dtypes of ``CANONICAL_SCHEMA``:
``line`` Int64 (1-based line, XLSX: sheet row), ``sheet`` String (null for text decks), ``prefix``
String (digits), ``destination`` String, ``rate`` Int64 micro-units per minute (null only for a
``Closed`` row without a rate), ``connect_fee`` Int64 micro-units, ``first_interval`` /
``next_interval`` Int32 seconds, ``effective_from`` / ``effective_to`` Int64 epoch seconds UTC
(null: not given), ``change`` String (New|Increase|Decrease|Unchanged|Closed|Blocked or null).

A deck that cannot be read raises :class:`lcr.errors.DeckRejected` with every
:class:`lcr.errors.DeckProblem` (file, line, column, value, message), not only the first. For a
workbook the problem's ``file`` names the sheet too (``rates.xlsx sheet 'Rates'``) and ``line`` is
the sheet row; ``column`` is the header as written in the deck.

NPANXX decks (``code,duration,increment,interrate,intrarate,ijrate,effective_date``) are routed
on ``interrate`` by default; a profile's ``rate_column`` picks another (``intrarate``, ``ijrate``).
Any other deck with several candidate rate columns is rejected until a profile chooses one.

Modules: ``deck`` (read_deck, ParsedDeck, duplicates, currency), ``text`` (delimited files),
``workbook`` (XLSX), ``header`` (column names, header row), ``convert`` (table to canonical
rows), ``codes``, ``values`` (money, increments, change words), ``dates``, ``profile``,
``table`` (the Table seam and problem collection), ``plan`` (the importer's diff).
"""

from lcr.decks.convert import CANONICAL_SCHEMA
from lcr.decks.deck import ParsedDeck, read_deck
from lcr.decks.profile import Profile, load_profile

__all__ = ["CANONICAL_SCHEMA", "ParsedDeck", "Profile", "load_profile", "read_deck"]
