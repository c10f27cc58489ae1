"""The card login: what a login request binds (origin, next page), its answers, and cursors.

Revision ID: portal_0002
Revises: portal_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "portal_0002"
down_revision = "portal_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "login_requests", sa.Column("origin", sa.String(200), nullable=False, server_default="")
    )
    op.add_column(
        "login_requests",
        sa.Column("next_path", sa.String(500), nullable=False, server_default="/"),
    )
    op.add_column(
        "login_requests", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("login_requests", sa.Column("failure", sa.String(40), nullable=True))
    op.add_column(
        "login_requests", sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_login_requests_subject_id", "login_requests", ["subject_id"])
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cursors"),
    )


def downgrade() -> None:
    op.drop_table("cursors")
    op.drop_index("ix_login_requests_subject_id", "login_requests")
    with op.batch_alter_table("login_requests") as batch:
        for column in ("collected_at", "failure", "attempts", "next_path", "origin"):
            batch.drop_column(column)
