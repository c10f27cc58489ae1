"""The notices (お知らせ): notices, delivery settings, the webhook outbox.

Revision ID: portal_notices_0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "portal_notices_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(32), nullable=False),
        sa.Column("portal_code", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(120), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("notice_id", name="pk_notices"),
        sa.UniqueConstraint("sender", "idempotency_key", name="uq_notices_sender_idempotency_key"),
    )
    op.create_index("ix_notices_portal_code_posted_at", "notices", ["portal_code", "posted_at"])
    op.create_table(
        "delivery_settings",
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("portal_code", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("service_id", sa.String(40), nullable=True),
        sa.Column("recipient_id", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_delivery_settings"),
        sa.UniqueConstraint("portal_code", name="uq_delivery_settings_portal_code"),
    )
    op.create_table(
        "deliveries",
        sa.Column("notice_id", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(40), nullable=False),
        sa.Column("recipient_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_outcome", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("notice_id", name="pk_deliveries"),
    )
    op.create_index(
        "ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("delivery_settings")
    op.drop_table("notices")
