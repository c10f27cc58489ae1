"""The JPKI issuer: issued certificates, the append-only revocation log, CRLs, the inbox.

Revision ID: pki_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import processed_events_columns

revision = "pki_0001"
down_revision = None
branch_labels = None
depends_on = None

# The revocation log is append-only in the database itself, not only by convention.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER revocation_log_no_update BEFORE UPDATE ON revocation_log "
    "BEGIN SELECT RAISE(ABORT, 'revocation_log is append-only'); END",
    "CREATE TRIGGER revocation_log_no_delete BEFORE DELETE ON revocation_log "
    "BEGIN SELECT RAISE(ABORT, 'revocation_log is append-only'); END",
)
_PG_TRIGGERS = (
    "CREATE FUNCTION revocation_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'revocation_log is append-only'; END $$",
    "CREATE TRIGGER revocation_log_append_only BEFORE UPDATE OR DELETE ON revocation_log "
    "FOR EACH ROW EXECUTE FUNCTION revocation_log_append_only()",
)


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
    dialect = op.get_bind().dialect.name
    for statement in _PG_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS revocation_log_append_only ON revocation_log")
        op.execute("DROP FUNCTION IF EXISTS revocation_log_append_only()")
    op.drop_table("processed_events")
    op.drop_table("crls")
    op.drop_table("revocation_log")
    op.drop_index("ix_certificates_resident", table_name="certificates")
    op.drop_table("certificates")
