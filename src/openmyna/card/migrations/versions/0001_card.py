"""The card register: cards, applications, moves in progress, audit log, outbox, inbox.

Revision ID: card_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import outbox_columns, processed_events_columns
from openmyna.store.append_only import drop_append_only, make_append_only

revision = "card_0001"
down_revision = None
branch_labels = None
depends_on = None

_VALID = sa.text("status IN ('active', 'suspended')")


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("card_id", sa.String(32), nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(32), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("auth_cert_serial", sa.String(64), nullable=False),
        sa.Column("sign_cert_serial", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("card_id", name="pk_cards"),
    )
    op.create_index(
        "uq_cards_valid_resident",
        "cards",
        ["resident_code"],
        unique=True,
        sqlite_where=_VALID,
        postgresql_where=_VALID,
    )
    op.create_index("ix_cards_resident_code", "cards", ["resident_code"])
    op.create_index("ix_cards_status", "cards", ["status"])
    op.create_table(
        "applications",
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("card_id", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_applications"),
    )
    op.create_index("ix_applications_resident_code", "applications", ["resident_code"])
    op.create_table(
        "moves",
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("from_lg_code", sa.String(6), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("moved_in_on", sa.Date(), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("to_lg_code", sa.String(6), nullable=True),
        sa.Column("continuation_due", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("resident_code", name="pk_moves"),
    )
    op.create_table(
        "audit_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("card_id", sa.String(32), nullable=True),
        sa.Column("resident_code", sa.String(11), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_card_id", "audit_log", ["card_id"])
    op.create_table("outbox", *outbox_columns(), sqlite_autoincrement=True)
    op.create_table("processed_events", *processed_events_columns())
    # The audit log is append-only in the database itself, not only by convention.
    make_append_only("audit_log")


def downgrade() -> None:
    drop_append_only("audit_log")
    op.drop_table("processed_events")
    op.drop_table("outbox")
    op.drop_table("audit_log")
    op.drop_table("moves")
    op.drop_table("applications")
    op.drop_table("cards")
