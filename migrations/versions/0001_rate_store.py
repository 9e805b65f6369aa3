"""rate store: carriers, customers, deck imports, versioned rates

Revision ID: 0001
Revises:
Create Date: 2026-11-23 20:32:46.844201
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carriers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("gateways", sa.Text(), nullable=False),
        sa.Column("tech_prefix", sa.String(length=32), server_default="", nullable=False),
        sa.Column("notice_days", sa.Integer(), server_default="7", nullable=False),
        sa.Column("aliases", sa.Text(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carriers")),
        sa.UniqueConstraint("name", name=op.f("uq_carriers_name")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prepaid", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=True),
        sa.Column("source_ips", sa.Text(), server_default="[]", nullable=False),
        sa.Column("tech_prefix", sa.String(length=32), server_default="", nullable=False),
        sa.Column("min_margin", sa.String(length=16), server_default="0", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.Column("low_balance_threshold", sa.BigInteger(), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("name", name=op.f("uq_customers_name")),
    )
    op.create_table(
        "deck_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_kind", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("warnings", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deck_imports")),
    )
    with op.batch_alter_table("deck_imports", schema=None) as batch_op:
        batch_op.create_index("ix_deck_imports_owner_hash", ["owner_kind", "owner_id", "content_hash"], unique=False)

    op.create_table(
        "store_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_state")),
    )
    op.create_table(
        "rates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_kind", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column(
            "prefix",
            sa.String(length=32).with_variant(sa.String(length=32, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("destination", sa.Text(), server_default="", nullable=False),
        sa.Column("rate", sa.BigInteger(), nullable=False),
        sa.Column("connect_fee", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_interval", sa.Integer(), server_default="1", nullable=False),
        sa.Column("next_interval", sa.Integer(), server_default="1", nullable=False),
        sa.Column("effective_from", sa.BigInteger(), nullable=False),
        sa.Column("effective_to", sa.BigInteger(), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rates")),
    )
    with op.batch_alter_table("rates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rates_owner_prefix", ["owner_kind", "owner_id", "prefix", "effective_from"], unique=False
        )

    op.bulk_insert(
        sa.table(
            "store_state",
            sa.column("id", sa.Integer),
            sa.column("version", sa.BigInteger),
            sa.column("changed_at", sa.BigInteger),
        ),
        [{"id": 1, "version": 0, "changed_at": 0}],
    )


def downgrade() -> None:
    with op.batch_alter_table("rates", schema=None) as batch_op:
        batch_op.drop_index("ix_rates_owner_prefix")

    op.drop_table("rates")
    op.drop_table("store_state")
    with op.batch_alter_table("deck_imports", schema=None) as batch_op:
        batch_op.drop_index("ix_deck_imports_owner_hash")

    op.drop_table("deck_imports")
    op.drop_table("customers")
    op.drop_table("carriers")
