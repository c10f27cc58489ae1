"""The national identity index (本人確認情報), the municipality directory and the inbox.

Revision ID: identity_index_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import processed_events_columns

revision = "identity_index_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("individual_number", sa.String(12), nullable=False),
        sa.Column("family_name", sa.String(100), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=False),
        sa.Column("family_name_kana", sa.String(100), nullable=False),
        sa.Column("given_name_kana", sa.String(100), nullable=False),
        sa.Column("former_surname", sa.String(100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resident_code", name="pk_identities"),
        sa.UniqueConstraint("individual_number", name="uq_identities_individual_number"),
    )
    op.create_index("ix_identities_lg_code", "identities", ["lg_code"])
    op.create_table(
        "municipalities",
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("prefecture", sa.String(16), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lg_code", name="pk_municipalities"),
    )
    op.create_table("processed_events", *processed_events_columns())


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("municipalities")
    op.drop_table("identities")
