"""The hub's open exchanges (idempotency), its replay guard and the node directory.

Revision ID: hub_0002
Revises: hub_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hub_0002"
down_revision = "hub_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_exchanges",
        sa.Column("exchange_id", sa.String(40), nullable=False),
        sa.Column("requester", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("exchange_id", name="pk_hub_exchanges"),
        sa.UniqueConstraint(
            "requester", "idempotency_key", name="uq_hub_exchanges_requester_idempotency_key"
        ),
    )
    op.create_index("ix_hub_exchanges_state_opened_at", "hub_exchanges", ["state", "opened_at"])
    op.create_table(
        "seen_messages",
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", "message_id", name="pk_seen_messages"),
    )
    op.create_index("ix_seen_messages_expires_at", "seen_messages", ["expires_at"])
    op.create_table(
        "hub_nodes",
        sa.Column("agency_id", sa.String(40), nullable=False),
        sa.Column("url", sa.String(200), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name="pk_hub_nodes"),
    )


def downgrade() -> None:
    op.drop_table("hub_nodes")
    op.drop_index("ix_seen_messages_expires_at", table_name="seen_messages")
    op.drop_table("seen_messages")
    op.drop_index("ix_hub_exchanges_state_opened_at", table_name="hub_exchanges")
    op.drop_table("hub_exchanges")
