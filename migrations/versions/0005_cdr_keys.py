"""cdr_keys: call_id uniqueness moves out of cdrs into a narrow table of its own

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cdr_keys",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_cdr_keys")),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO cdr_keys (call_id, import_id) SELECT call_id, import_id FROM cdrs")
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_cdrs_call_id", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_cdrs_call_id", ["call_id"])
    op.drop_table("cdr_keys")
