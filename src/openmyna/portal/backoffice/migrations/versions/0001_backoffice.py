"""The back office: the staff register, the staff log (append-only), resident handles.

Revision ID: backoffice_0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.store.append_only import drop_append_only, make_append_only

revision = "backoffice_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_grants",
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "lg_code", name="pk_staff_grants"),
    )
    op.create_table(
        "staff_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=True),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=True),
        sa.Column("subject", sa.String(40), nullable=True),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_staff_log"),
    )
    op.create_index("ix_staff_log_lg_code", "staff_log", ["lg_code"])
    make_append_only("staff_log")
    op.create_table(
        "resident_handles",
        sa.Column("handle", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("from_lg_code", sa.String(6), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handle", name="pk_resident_handles"),
    )
    op.create_index("ix_resident_handles_session_id", "resident_handles", ["session_id"])


def downgrade() -> None:
    op.drop_table("resident_handles")
    drop_append_only("staff_log")
    op.drop_table("staff_log")
    op.drop_table("staff_grants")
