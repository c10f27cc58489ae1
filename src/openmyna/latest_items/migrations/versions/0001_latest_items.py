"""The latest-4-items service: businesses, consent requests, consents, provisions, the log.

Revision ID: latest_items_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.bus import processed_events_columns
from openmyna.store.append_only import drop_append_only, make_append_only

revision = "latest_items_0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False),
        sa.Column("webhook_url", sa.String(400), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_id", name="pk_businesses"),
        sa.UniqueConstraint("api_key_hash", name="uq_businesses_api_key_hash"),
    )
    op.create_table(
        "consent_requests",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("named_serial", sa.String(40), nullable=True),
        sa.Column("link_hash", sa.String(64), nullable=True),
        sa.Column("resident_code", sa.String(15), nullable=True),
        sa.Column("account_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sign_hash", sa.String(64), nullable=True),
        sa.Column("sign_subject_id", sa.String(64), nullable=True),
        sa.Column("sign_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.Column("last_error", sa.String(40), nullable=True),
        sa.Column("consent_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_consent_requests"),
        sa.UniqueConstraint("link_hash", name="uq_consent_requests_link_hash"),
        sa.UniqueConstraint("sign_hash", name="uq_consent_requests_sign_hash"),
    )
    op.create_index("ix_consent_requests_resident_code", "consent_requests", ["resident_code"])
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("resident_code", sa.String(15), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("cms", sa.LargeBinary(), nullable=False),
        sa.Column("signer_serial", sa.String(40), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("consent_id", name="pk_consents"),
        sa.UniqueConstraint("request_id", name="uq_consents_request_id"),
    )
    op.create_index("ix_consents_resident_code", "consents", ["resident_code"])
    op.create_index("ix_consents_account_id", "consents", ["account_id"])
    op.create_table(
        "provisions",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("provision_id", sa.String(32), nullable=False),
        sa.Column("consent_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("changed_on", sa.String(10), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_outcome", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_provisions"),
        sa.UniqueConstraint("provision_id", name="uq_provisions_provision_id"),
        sa.UniqueConstraint("consent_id", "event_id", name="uq_provisions_consent_id_event_id"),
    )
    op.create_index("ix_provisions_business_id_seq", "provisions", ["business_id", "seq"])
    op.create_index(
        "ix_provisions_status_next_attempt_at", "provisions", ["status", "next_attempt_at"]
    )
    op.create_table(
        "consent_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_id", sa.String(32), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consent_log"),
    )
    op.create_index("ix_consent_log_consent_id", "consent_log", ["consent_id"])
    make_append_only("consent_log")
    op.create_table("processed_events", *processed_events_columns())


def downgrade() -> None:
    op.drop_table("processed_events")
    drop_append_only("consent_log")
    op.drop_table("consent_log")
    op.drop_table("provisions")
    op.drop_table("consents")
    op.drop_table("consent_requests")
    op.drop_table("businesses")
