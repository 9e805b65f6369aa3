"""compiled decks kept in the store for CDR rating; cdrs loses its unused import_id index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 22:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compiled_decks",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_compiled_decks")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # a cache: no WAL for hundreds of MB per deck change (lost in a crash, rebuilt by the next
        # import), stored as is (the bytes are lz4 already; pglz would only spend time on them)
        op.execute("ALTER TABLE compiled_decks SET UNLOGGED")
        op.execute("ALTER TABLE compiled_decks ALTER COLUMN data SET STORAGE EXTERNAL")
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_index("ix_cdrs_import")


def downgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.create_index("ix_cdrs_import", ["import_id"], unique=False)
    op.drop_table("compiled_decks")
