"""公金決済: payments, attempts, the append-only log.

Revision ID: portal_payments_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.store.append_only import drop_append_only, make_append_only

revision = "portal_payments_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(32), nullable=False),
        sa.Column("portal_code", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(40), nullable=False),
        sa.Column("agency_key", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(120), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("payee_number", sa.String(5), nullable=False),
        sa.Column("customer_number", sa.String(20), nullable=False),
        sa.Column("confirmation_number", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by_attempt", sa.String(32), nullable=True),
        sa.Column("receipt_number", sa.String(24), nullable=True),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payments"),
        sa.UniqueConstraint("receipt_number", name="uq_payments_receipt_number"),
    )
    op.create_index("ix_payments_portal_code", "payments", ["portal_code"])
    op.create_index(
        "uq_payments_agency_id_agency_key", "payments", ["agency_id", "agency_key"], unique=True
    )
    op.create_table(
        "payment_attempts",
        sa.Column("attempt_id", sa.String(32), nullable=False),
        sa.Column("payment_id", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_payment_attempts"),
    )
    op.create_index("ix_payment_attempts_payment_id", "payment_attempts", ["payment_id"])
    op.create_table(
        "payment_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_payment_log"),
    )
    op.create_index("ix_payment_log_payment_id", "payment_log", ["payment_id"])
    make_append_only("payment_log")


def downgrade() -> None:
    drop_append_only("payment_log")
    op.drop_table("payment_log")
    op.drop_table("payment_attempts")
    op.drop_table("payments")
