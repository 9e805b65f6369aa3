"""billing: cdrs, quarantine, ledger, invoices, balances

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:59:47.238897
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cdr_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdr_imports")),
    )
    op.create_table(
        "cdr_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdr_quarantine")),
    )
    op.create_table(
        "cdrs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("customer", sa.String(length=64), nullable=True),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("src", sa.String(length=64), server_default="", nullable=False),
        sa.Column("dst", sa.String(length=64), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("answer_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("billsec", sa.BigInteger(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("sell_prefix", sa.String(length=32), nullable=True),
        sa.Column("sell_destination", sa.Text(), nullable=True),
        sa.Column("sell_rate", sa.BigInteger(), nullable=True),
        sa.Column("sell_billed", sa.BigInteger(), nullable=True),
        sa.Column("sell_amount", sa.BigInteger(), nullable=True),
        sa.Column("sell_reason", sa.Text(), nullable=True),
        sa.Column("buy_prefix", sa.String(length=32), nullable=True),
        sa.Column("buy_rate", sa.BigInteger(), nullable=True),
        sa.Column("buy_billed", sa.BigInteger(), nullable=True),
        sa.Column("buy_amount", sa.BigInteger(), nullable=True),
        sa.Column("buy_reason", sa.Text(), nullable=True),
        sa.Column("margin", sa.BigInteger(), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("invoiced_amount", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdrs")),
        sa.UniqueConstraint("call_id", name=op.f("uq_cdrs_call_id")),
    )
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.create_index("ix_cdrs_customer_start", ["customer", "start_time"], unique=False)
        batch_op.create_index("ix_cdrs_import", ["import_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("period_from", sa.String(length=10), nullable=False),
        sa.Column("period_to", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("customer_id", "period_from", "period_to", name="uq_invoices_period"),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger")),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_customer", ["customer_id", "created_at"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("low_balance_alerted", sa.Boolean(), server_default="0", nullable=False))

    with op.batch_alter_table("store_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_version", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("store_state", schema=None) as batch_op:
        batch_op.drop_column("credit_version")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("low_balance_alerted")
        batch_op.drop_column("balance")

    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_customer")

    op.drop_table("ledger")
    op.drop_table("invoices")
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_index("ix_cdrs_import")
        batch_op.drop_index("ix_cdrs_customer_start")

    op.drop_table("cdrs")
    op.drop_table("cdr_quarantine")
    op.drop_table("cdr_imports")
