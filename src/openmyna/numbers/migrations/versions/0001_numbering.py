"""The issuing body's serial counter and its append-only log of allocated blocks.

Revision ID: numbering_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "numbering_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    counter = op.create_table(
        "numbering_counter",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.Column("limit_value", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "numbering_block",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("counter", sa.String(40), nullable=False),
        sa.Column("first_value", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(counter, [{"name": "resident_code", "next_value": 0, "limit_value": 10**10}])


def downgrade() -> None:
    op.drop_table("numbering_block")
    op.drop_table("numbering_counter")
