"""compiled_decks.digest: the saved decks' sha256, naming a process's local copy of them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 04:25:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compiled_decks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compiled_decks", schema=None) as batch_op:
        batch_op.drop_column("digest")
