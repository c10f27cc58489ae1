"""The moving one-stop: recorded move-out notices, planned move-ins, counter visits, inbox.

Revision ID: moving_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import processed_events_columns

revision = "moving_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "move_out_notices",
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("from_lg_code", sa.String(6), nullable=False),
        sa.Column("to_lg_code", sa.String(6), nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_move_out_notices"),
    )
    op.create_index("ix_move_out_notices_account_id", "move_out_notices", ["account_id"])
    op.create_table(
        "planned_move_ins",
        sa.Column("move_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("to_lg_code", sa.String(6), nullable=False),
        sa.Column("from_lg_code", sa.String(6), nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kana", sa.String(200), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("from_address", sa.String(200), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("moved_in_on", sa.Date(), nullable=True),
        sa.Column("new_address", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("move_id", name="pk_planned_move_ins"),
        sa.UniqueConstraint("event_id", name="uq_planned_move_ins_event_id"),
    )
    op.create_index("ix_planned_move_ins_to_lg_code", "planned_move_ins", ["to_lg_code"])
    op.create_index("ix_planned_move_ins_resident_code", "planned_move_ins", ["resident_code"])
    op.create_table(
        "visits",
        sa.Column("visit_id", sa.String(32), nullable=False),
        sa.Column("move_id", sa.String(32), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("visit_id", name="pk_visits"),
    )
    op.create_index("ix_visits_lg_code_starts_at", "visits", ["lg_code", "starts_at"])
    op.create_index("ix_visits_move_id", "visits", ["move_id"])
    op.create_table("processed_events", *processed_events_columns())


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("visits")
    op.drop_table("planned_move_ins")
    op.drop_table("move_out_notices")
