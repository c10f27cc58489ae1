"""eKYC platform operator: businesses, their API keys, the append-only audit log.

Revision ID: ekyc_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.store.append_only import drop_append_only, make_append_only

revision = "ekyc_0001"
down_revision = None
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("business_id", sa.String(24), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("price_yen", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("status_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("business_id", name="pk_businesses"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(24), nullable=False),
        sa.Column("business_id", sa.String(24), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_business_id", "api_keys", ["business_id"])
    op.create_table(
        "audit_log",
        sa.Column("entry_id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("business_id", sa.String(24), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(24), nullable=False),
        sa.Column("cert_serial", sa.String(64), nullable=True),
        sa.Column("cert_kind", sa.String(8), nullable=True),
        sa.Column("data_sha256", sa.String(64), nullable=True),
        sa.Column("cert_status", sa.String(16), nullable=True),
        sa.Column("status_source", sa.String(8), nullable=True),
        sa.Column("billed", sa.Boolean, nullable=False),
        sa.Column("price_yen", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_audit_log"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_audit_log_business_id_recorded_at", "audit_log", ["business_id", "recorded_at"]
    )
    make_append_only("audit_log")


def downgrade() -> None:
    drop_append_only("audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
    op.drop_table("businesses")
