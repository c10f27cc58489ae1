"""A node's outgoing requests (idempotency keys) and one record per exchange and role.

Revision ID: node_0002
Revises: node_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "node_0002"
down_revision = "node_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_outgoing",
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("code", sa.String(26), nullable=False),
        sa.Column("affair", sa.String(64), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("provider_kind", sa.String(64), nullable=True),
        sa.Column("provider_agency", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name="pk_node_outgoing"),
        sa.UniqueConstraint("request_id", name="uq_node_outgoing_request_id"),
    )
    op.create_index(
        "ix_node_records_exchange_id_role", "node_records", ["exchange_id", "role"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_node_records_exchange_id_role", table_name="node_records")
    op.drop_table("node_outgoing")
