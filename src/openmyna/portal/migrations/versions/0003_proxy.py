"""代理人 (P8): proxy grants, the append-only proxy log, and sessions that act for a principal.

Revision ID: portal_0003
Revises: portal_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.store.append_only import drop_append_only, make_append_only

revision = "portal_0003"
down_revision = "portal_0002"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("sessions", sa.Column("acting_for", sa.String(32), nullable=True))
    op.add_column("sessions", sa.Column("acting_grant", sa.String(32), nullable=True))
    op.create_table(
        "proxy_grants",
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=False),
        sa.Column("proxy_id", sa.String(32), nullable=True),
        sa.Column("proxy_label", sa.String(40), nullable=False),
        sa.Column("principal_label", sa.String(40), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("invitation_hash", sa.String(64), nullable=False),
        sa.Column("invitation_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("grant_id", name="pk_proxy_grants"),
        sa.UniqueConstraint("invitation_hash", name="uq_proxy_grants_invitation_hash"),
    )
    op.create_index("ix_proxy_grants_principal_id", "proxy_grants", ["principal_id"])
    op.create_index("ix_proxy_grants_proxy_id", "proxy_grants", ["proxy_id"])
    op.create_table(
        "proxy_log",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=False),
        sa.Column("proxy_id", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_proxy_log"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_proxy_log_principal_id", "proxy_log", ["principal_id"])
    op.create_index("ix_proxy_log_proxy_id", "proxy_log", ["proxy_id"])
    # What a proxy did is the principal's to read, never to rewrite: the database refuses it.
    make_append_only("proxy_log")


def downgrade() -> None:
    drop_append_only("proxy_log")
    op.drop_table("proxy_log")
    op.drop_table("proxy_grants")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("acting_grant")
        batch.drop_column("acting_for")
