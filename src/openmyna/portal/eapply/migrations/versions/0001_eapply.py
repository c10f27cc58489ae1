"""E-applications: drafts, attachments, card requests, applications, their status events.

Revision ID: portal_eapply_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.store.append_only import drop_append_only, make_append_only

revision = "portal_eapply_0001"
down_revision = None
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column("draft_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(80), nullable=False),
        sa.Column("form_id", sa.String(40), nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("prefilled", sa.Text, nullable=False),
        sa.Column("consented_at", _WHEN, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("draft_id", name="pk_drafts"),
    )
    op.create_index("ix_drafts_account_id", "drafts", ["account_id"])
    op.create_table(
        "attachments",
        sa.Column("attachment_id", sa.String(32), nullable=False),
        sa.Column("draft_id", sa.String(32), nullable=False),
        sa.Column("slot", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(120), nullable=False),
        sa.Column("media_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("attachment_id", name="pk_attachments"),
        sa.UniqueConstraint("draft_id", "slot", name="uq_attachments_draft_id_slot"),
    )
    op.create_table(
        "card_requests",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("draft_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.String(40), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("answered_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_card_requests"),
        sa.UniqueConstraint("token_hash", name="uq_card_requests_token_hash"),
    )
    op.create_index("ix_card_requests_draft_id", "card_requests", ["draft_id"])
    op.create_table(
        "applications",
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(80), nullable=False),
        sa.Column("form_id", sa.String(40), nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("cms", sa.LargeBinary, nullable=False),
        sa.Column("signer_serial", sa.String(64), nullable=False),
        sa.Column("signer_subject_id", sa.String(64), nullable=False),
        sa.Column("signed_at", _WHEN, nullable=False),
        sa.Column("submitted_at", _WHEN, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_applications"),
        sa.UniqueConstraint("reference", name="uq_applications_reference"),
    )
    op.create_index("ix_applications_account_id", "applications", ["account_id"])
    op.create_index("ix_applications_lg_code_status", "applications", ["lg_code", "status"])
    op.create_table(
        "application_events",
        sa.Column("event_id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("lg_code", sa.String(6), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_application_events"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_application_events_application_id", "application_events", ["application_id"]
    )
    make_append_only("application_events")


def downgrade() -> None:
    drop_append_only("application_events")
    op.drop_table("application_events")
    op.drop_table("applications")
    op.drop_table("card_requests")
    op.drop_table("attachments")
    op.drop_table("drafts")
