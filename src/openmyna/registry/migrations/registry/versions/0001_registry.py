"""A municipality's registry: households, residents (current and removed), audit log, outbox.

Revision ID: registry_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import outbox_columns
from openmyna.store.append_only import drop_append_only, make_append_only

revision = "registry_0001"
down_revision = None
branch_labels = None
depends_on = None

_CURRENT = sa.text("status = 'current'")


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("household_id", sa.String(32), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("head_resident_code", sa.String(11), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name="pk_households"),
    )
    op.create_table(
        "residents",
        sa.Column("record_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("individual_number", sa.String(12), nullable=False),
        sa.Column("family_name", sa.String(100), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=False),
        sa.Column("family_name_kana", sa.String(100), nullable=False),
        sa.Column("given_name_kana", sa.String(100), nullable=False),
        sa.Column("former_surname", sa.String(100), nullable=True),
        sa.Column("former_surname_kana", sa.String(100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("household_id", sa.String(32), nullable=False),
        sa.Column("relationship", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("arrival", sa.String(24), nullable=False),
        sa.Column("resident_since", sa.Date(), nullable=False),
        sa.Column("address_since", sa.Date(), nullable=False),
        sa.Column("previous_address", sa.String(200), nullable=True),
        sa.Column("moved_in_from_lg_code", sa.String(6), nullable=True),
        sa.Column("in_certificate_id", sa.String(32), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(16), nullable=True),
        sa.Column("destination", sa.String(200), nullable=True),
        sa.Column("destination_lg_code", sa.String(6), nullable=True),
        sa.Column("out_certificate_id", sa.String(32), nullable=True),
        sa.Column("head_name_at_removal", sa.String(201), nullable=True),
        sa.Column("moved_in_at_lg_code", sa.String(6), nullable=True),
        sa.Column("moved_in_at_on", sa.Date(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_event_on", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
            name="fk_residents_household_id_households",
        ),
        sa.PrimaryKeyConstraint("record_id", name="pk_residents"),
    )
    op.create_index("ix_residents_household_id", "residents", ["household_id"])
    op.create_index("ix_residents_resident_code", "residents", ["resident_code"])
    op.create_index("ix_residents_status", "residents", ["status"])
    op.create_index(
        "uq_residents_current_code",
        "residents",
        ["resident_code"],
        unique=True,
        sqlite_where=_CURRENT,
        postgresql_where=_CURRENT,
    )
    op.create_index(
        "uq_residents_current_number",
        "residents",
        ["individual_number"],
        unique=True,
        sqlite_where=_CURRENT,
        postgresql_where=_CURRENT,
    )
    op.create_table(
        "audit_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("resident_code", sa.String(11), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_resident_code", "audit_log", ["resident_code"])
    op.create_table("outbox", *outbox_columns(), sqlite_autoincrement=True)
    # The audit log is append-only in the database itself, not only by convention.
    make_append_only("audit_log")


def downgrade() -> None:
    drop_append_only("audit_log")
    op.drop_table("outbox")
    op.drop_table("audit_log")
    op.drop_table("residents")
    op.drop_table("households")
