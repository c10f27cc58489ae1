"""A domain's own database in the bus tests: its effects, its inbox and its outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import outbox_columns, processed_events_columns

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "effects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
    )
    # The recipe docs/architecture.md gives other domains for their own inbox table.
    op.create_table("processed_events", *processed_events_columns())
    op.create_table("outbox", *outbox_columns(), sqlite_autoincrement=True)
