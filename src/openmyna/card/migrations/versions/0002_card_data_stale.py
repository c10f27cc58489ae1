"""Stale card data: the day the 4 items changed in the registry and which ones.

Revision ID: card_0002
Revises: card_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "card_0002"
down_revision = "card_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null while the chip's data matches the registry (every card so far).
    op.add_column("cards", sa.Column("data_stale_since", sa.Date(), nullable=True))
    op.add_column("cards", sa.Column("data_stale_items", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("data_stale_items")
        batch.drop_column("data_stale_since")
