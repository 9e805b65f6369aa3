"""The rate store's tables (SQLAlchemy Core). Schema changes go through Alembic migrations only.

Money columns are integer micro-units (BigInteger); instants are integer seconds since the Unix
epoch, UTC (BigInteger); an open end is NULL. A rate row is one *version* of one code of one
owner, in force on ``[effective_from, effective_to)``; versions are never overwritten, only
closed (``effective_to`` set). A version whose ``effective_to == effective_from`` was superseded
before it took effect: it is kept for the audit trail and is never in force.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
    or_,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

carriers = Table(
    "carriers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("gateways", Text, nullable=False),  # JSON list of "host:port"
    Column("tech_prefix", String(32), nullable=False, server_default=""),
    Column("notice_days", Integer, nullable=False, server_default="7"),
    Column("aliases", Text, nullable=False, server_default="[]"),  # JSON list of names used by switches
    Column("created_at", BigInteger, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("prepaid", Boolean, nullable=False, server_default="0"),
    Column("credit_limit", BigInteger, nullable=True),  # micro-units; NULL = no limit
    Column("source_ips", Text, nullable=False, server_default="[]"),  # JSON list
    Column("tech_prefix", String(32), nullable=False, server_default=""),
    Column("min_margin", String(16), nullable=False, server_default="0"),  # percent, decimal string
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("low_balance_threshold", BigInteger, nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # billing (migration 0002): the ledger's running sum, and whether the low-balance alarm is raised
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("low_balance_alerted", Boolean, nullable=False, server_default="0"),
)

deck_imports = Table(
    "deck_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_kind", String(8), nullable=False),  # "carrier" | "customer"
    Column("owner_id", Integer, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),  # sha256 of the file bytes
    Column("received", BigInteger, nullable=False),
    Column("mode", String(8), nullable=False),  # "full" | "delta"
    Column("profile", String(64), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("summary", Text, nullable=False),  # JSON: counts per change kind
    Column("warnings", Text, nullable=False),  # JSON list of strings
    Column("created_at", BigInteger, nullable=False),
    Index("ix_deck_imports_owner_hash", "owner_kind", "owner_id", "content_hash"),
)

rates = Table(
    "rates",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("owner_kind", String(8), nullable=False),
    Column("owner_id", Integer, nullable=False),
    # byte order ("C" collation on PostgreSQL): digits compare fast and sort the same everywhere
    Column("prefix", String(32).with_variant(String(32, collation="C"), "postgresql"), nullable=False),
    Column("destination", Text, nullable=False, server_default=""),
    Column("rate", BigInteger, nullable=False),  # micro-units per minute
    Column("connect_fee", BigInteger, nullable=False, server_default="0"),
    Column("first_interval", Integer, nullable=False, server_default="1"),
    Column("next_interval", Integer, nullable=False, server_default="1"),
    Column("effective_from", BigInteger, nullable=False),
    Column("effective_to", BigInteger, nullable=True),
    Column("blocked", Boolean, nullable=False, server_default="0"),
    # the deck import that wrote the version; no foreign key: a per-row check costs seconds per million rows
    Column("import_id", Integer, nullable=False),
    Index("ix_rates_owner_prefix", "owner_kind", "owner_id", "prefix", "effective_from"),
)

# One row (id = 1): a counter bumped by every change routers care about (decks, customers,
# carriers, balances). Routers poll it on SQLite; PostgreSQL also NOTIFYs channel ``lcr_changes``.
store_state = Table(
    "store_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", BigInteger, nullable=False),
    # bumped by balance changes only (CDR charges, payments): routers refresh credit, not tables
    Column("credit_version", BigInteger, nullable=False, server_default="0"),
)



# --- billing (migration 0002) -------------------------------------------------------------------

cdr_imports = Table(
    "cdr_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", Text, nullable=False),  # file name, or "api"
    Column("format", String(16), nullable=False),
    Column("content_hash", String(64), nullable=True),
    Column("summary", Text, nullable=False),  # JSON: counts
    Column("created_at", BigInteger, nullable=False),
)

# Every call_id ever imported, once (a call is charged at most once), with the CDR import that
# stored it. Kept apart from ``cdrs`` (migration 0005): an import stores its calls in
# (customer, start_time) order, which is random in call_id, and a random insert into a unique
# index of the wide table cost PostgreSQL several times what this narrow table costs.
cdr_keys = Table(
    "cdr_keys",
    metadata,
    # "C" collation on PostgreSQL (migration 0006): only ever matched for equality, compared byte by byte
    Column("call_id", String(128).with_variant(String(128, collation="C"), "postgresql"), primary_key=True),
    Column("import_id", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# One row per call ever imported (its call_id in ``cdr_keys``). Both sides' rating is kept on
# the row; an unrated side has only its reason. ``invoice_id`` / ``invoiced_amount`` record what
# an issued invoice charged, so a later re-rate shows up as an adjustment on the next invoice.
# Rows are updated by ``id``.
cdrs = Table(
    "cdrs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("call_id", String(128), nullable=False),
    Column("import_id", Integer, nullable=False),
    Column("customer", String(64), nullable=True),
    Column("carrier", String(64), nullable=True),
    Column("src", String(64), nullable=False, server_default=""),
    Column("dst", String(64), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("answer_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("billsec", BigInteger, nullable=False),
    Column("disposition", String(16), nullable=False),
    Column("sell_prefix", String(32), nullable=True),
    Column("sell_destination", Text, nullable=True),
    Column("sell_rate", BigInteger, nullable=True),
    Column("sell_billed", BigInteger, nullable=True),
    Column("sell_amount", BigInteger, nullable=True),
    Column("sell_reason", Text, nullable=True),
    Column("buy_prefix", String(32), nullable=True),
    Column("buy_rate", BigInteger, nullable=True),
    Column("buy_billed", BigInteger, nullable=True),
    Column("buy_amount", BigInteger, nullable=True),
    Column("buy_reason", Text, nullable=True),
    Column("margin", BigInteger, nullable=True),
    Column("invoice_id", Integer, nullable=True),
    Column("invoiced_amount", BigInteger, nullable=True),
    # Stored by a large import (``BULK_MIN_CALLS`` new calls or more) into PostgreSQL: such an
    # import writes its calls together in (customer, start_time) order, so a BRIN index finds them
    # (a tenth of the B-tree's cost per call); the B-tree keeps the rest (migration 0006). SQLite
    # keeps every call in the B-tree and this false. Queries by customer say ``either_index``.
    Column("bulk", Boolean, nullable=False, server_default=false()),
    Index("ix_cdrs_customer_start", "customer", "start_time", postgresql_where=text("NOT bulk")),
    Index("ix_cdrs_bulk_customer_start", "customer", "start_time", postgresql_using="brin",
          postgresql_with={"pages_per_range": 16, "autosummarize": "on"}, postgresql_where=text("bulk"))
    .ddl_if(dialect="postgresql"),
    # no index on import_id (dropped by migration 0003): nothing looks calls up by import, and
    # each index costs every CDR import about a tenth of its insert time
)

BULK_MIN_CALLS = 10_000  # an import storing this many new calls or more stores them as ``bulk``


def either_index(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """``where`` (conditions on ``cdrs``' customer and start time) said so that PostgreSQL can
    use both of its indexes: ``bulk OR NOT bulk`` lets its planner OR a BRIN scan (bulk calls)
    with a B-tree scan (the rest), each arm implying one partial index's predicate. Without it
    the planner can use neither and reads the whole table."""
    return and_(*where, or_(cdrs.c.bulk, ~cdrs.c.bulk))


# Lines a CDR reader could not take, verbatim: quarantined, counted, never lost.
cdr_quarantine = Table(
    "cdr_quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("import_id", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("line", Integer, nullable=True),
    Column("raw", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The money ledger: every change of a customer's balance (micro-units; + raises the balance).
# kind: "charges" (one entry per customer per CDR import), "payment", "adjustment", "rerate".
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("calls", Integer, nullable=False, server_default="0"),
    Column("import_id", Integer, nullable=True),
    Column("reference", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_ledger_customer", "customer_id", "created_at"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("period_from", String(10), nullable=False),
    Column("period_to", String(10), nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("document", Text, nullable=False),  # the issued JSON facts: re-issue gives the same document
    UniqueConstraint("customer_id", "period_from", "period_to", name="uq_invoices_period"),
)

# --- compiled decks (migration 0003) ----------------------------------------------------------

# The rate decks compiled for CDR rating, as Arrow IPC bytes (lcr.store.deck_cache): one row,
# keyed by a hash of the store state they were built from and of the code that built them.
# A cache: UNLOGGED on PostgreSQL (migration 0003), so a crash may empty it, never corrupt it.
compiled_decks = Table(
    "compiled_decks",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # the sha256 of ``data`` (migration 0004): the name of a process's local copy of it
    Column("digest", String(64), nullable=True),
)
