"""The JPKI issuer: issued certificates, the append-only revocation log, CRLs, the inbox.

Revision ID: pki_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import processed_events_columns
from openmyna.store.append_only import drop_append_only, make_append_only

revision = "pki_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("resident_code", sa.String(11), nullable=False),
        sa.Column("card_id", sa.String(64), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("serial"),
    )
    op.create_index("ix_certificates_resident", "certificates", ["resident_code", "kind"])
    op.create_table(
        "revocation_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "crls",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_change", sa.BigInteger(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "number"),
    )
    op.create_table("processed_events", *processed_events_columns())
    # The revocation log is append-only in the database itself, not only by convention.
    make_append_only("revocation_log")


def downgrade() -> None:
    drop_append_only("revocation_log")
    op.drop_table("processed_events")
    op.drop_table("crls")
    op.drop_table("revocation_log")
    op.drop_index("ix_certificates_resident", table_name="certificates")
    op.drop_table("certificates")
