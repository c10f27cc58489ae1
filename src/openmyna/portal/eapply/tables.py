"""The e-applications' own database: store kind ``portal_eapply``, one body ``portal``.

- ``drafts``: an application being filled in (一時保存), the person's own; its id becomes the
  application's id (and the idempotency key of its submission).
- ``attachments``: the files attached to a draft, kept for the application it becomes.
- ``card_requests``: one-time requests the holder's app answers with the card (fill the form
  from the 券面事項入力補助AP; sign the application); the URL carries a random token, the
  table only its SHA-256.
- ``applications``: the signed applications, each addressed to the receiving municipality:
  the signed document (canonical bytes), the CMS signature, who signed, and the current
  status (the last row of ``application_events``).
- ``application_events``: every status change (submitted, received, approved, rejected) with
  who, when and why; append-only (database triggers); its increasing id is the feed the
  notices follow.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from openmyna.portal.tables import NAMING, PORTAL_BODY
from openmyna.store import StoreKind, register_kind

EAPPLY_KIND = "portal_eapply"
EAPPLY_BODY = PORTAL_BODY

metadata = MetaData(naming_convention=NAMING)

drafts = Table(
    "drafts",
    metadata,
    Column("draft_id", String(32), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("service_id", String(80), nullable=False),
    Column("form_id", String(40), nullable=False),
    Column("form_version", Integer, nullable=False),
    #: ``editing``, ``signing`` (a signing request is out), ``submitted``.
    Column("status", String(16), nullable=False),
    #: The answers so far (JSON, by section); emptied once the application is submitted.
    Column("answers", Text, nullable=False),
    #: The input names the card filled (JSON list), marked on the form.
    Column("prefilled", Text, nullable=False),
    #: When the person consented on the page to fill the form from their card.
    Column("consented_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_drafts_account_id", "account_id"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("attachment_id", String(32), primary_key=True),
    Column("draft_id", String(32), nullable=False),
    #: The attachment's name in the form definition (one file each).
    Column("slot", String(40), nullable=False),
    Column("filename", String(120), nullable=False),
    Column("media_type", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("draft_id", "slot"),
)

card_requests = Table(
    "card_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    #: SHA-256 (hex) of the one-time URL's token.
    Column("token_hash", String(64), nullable=False, unique=True),
    #: ``prefill`` or ``sign``.
    Column("kind", String(8), nullable=False),
    Column("draft_id", String(32), nullable=False),
    Column("account_id", String(32), nullable=False),
    #: The user-authentication certificate of the session that asked (``subject_id``).
    Column("subject_id", String(64), nullable=False),
    #: ``sign``: the document to be signed (the application's canonical bytes).
    Column("document", LargeBinary, nullable=True),
    #: ``pending``, ``answered``, ``cancelled`` (the draft changed; a newer request).
    Column("status", String(16), nullable=False),
    #: The code of the last refused answer (shown to the waiting page), if any.
    Column("last_error", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Index("ix_card_requests_draft_id", "draft_id"),
)

applications = Table(
    "applications",
    metadata,
    #: The draft's id: one application per draft, however often the signature is posted.
    Column("application_id", String(32), primary_key=True),
    #: What the applicant is shown and quotes (受付番号).
    Column("reference", String(16), nullable=False, unique=True),
    Column("account_id", String(32), nullable=False),
    Column("service_id", String(80), nullable=False),
    Column("form_id", String(40), nullable=False),
    Column("form_version", Integer, nullable=False),
    #: The receiving municipality (its back office lists by it).
    Column("lg_code", String(6), nullable=False),
    #: The signed document: the canonical JSON bytes (docs/portal.md "申請 (P5)").
    Column("document", LargeBinary, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    #: The detached CMS SignedData (DER) over ``document``.
    Column("cms", LargeBinary, nullable=False),
    Column("signer_serial", String(64), nullable=False),
    Column("signer_subject_id", String(64), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    #: ``submitted``, ``received``, ``approved``, ``rejected`` (the last event's).
    Column("status", String(16), nullable=False),
    Column("status_at", DateTime(timezone=True), nullable=False),
    Index("ix_applications_account_id", "account_id"),
    Index("ix_applications_lg_code_status", "lg_code", "status"),
)

application_events = Table(
    "application_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", String(32), nullable=False),
    Column("lg_code", String(6), nullable=False),
    Column("status", String(16), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    #: Who made the change: ``portal`` for a submission, the staff member for the others.
    Column("actor", String(120), nullable=False),
    #: Why (a decision's grounds; a note on receipt), as the applicant will read it.
    Column("reason", String(1000), nullable=False),
    Index("ix_application_events_application_id", "application_id"),
    sqlite_autoincrement=True,
)

EAPPLY_STORE = register_kind(
    StoreKind(EAPPLY_KIND, metadata, migrations="openmyna.portal.eapply:migrations")
)
