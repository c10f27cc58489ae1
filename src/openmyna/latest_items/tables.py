"""The latest-4-items service's own database: store kind ``latest_items``, body ``jlis``.

The service is J-LIS's (地方公共団体情報システム機構), so its database is the national
body's, apart from the portal's. Nothing here holds the individual number; the people are
named by their resident-record code (住民票コード), as the registry's events name them.

- ``businesses``: the businesses an operator registered, with the SHA-256 of their API key
  (never the key) and the URL of their webhook, if they take one. The webhook's signing
  secret is not stored either: it is derived from the service's key file
  (``businesses.webhook_secret``).
- ``consent_requests``: a business's request for a person's consent, naming them by the
  serial of a certificate it verified, or by a one-time link (only its SHA-256 kept); the
  frozen document the person signs, and the one-time signing URL's token hash.
- ``consents``: a person's signed consent to one business (the CMS kept as evidence), live
  until they revoke it.
- ``provisions``: the outbox of what was provided: one row per consent and registry event,
  with the 4 items as they became; polled through the API, or delivered by webhook and
  retried with backoff. A revoked consent's rows are withdrawn and their items erased.
- ``consent_log``: every grant, revocation, provision and refusal, append-only (triggers).
- ``processed_events``: the bus inbox (each registry event applied once).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

from openmyna.bus import processed_events_table
from openmyna.store import StoreKind, register_kind

LATEST_ITEMS_KIND = "latest_items"
LATEST_ITEMS_BODY = "jlis"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
#: An autoincrementing id (SQLite's rowid alias wants INTEGER).
_ID = BigInteger().with_variant(Integer(), "sqlite")

businesses = Table(
    "businesses",
    metadata,
    Column("business_id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    #: SHA-256 (hex) of the API key.
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("webhook_url", String(400), nullable=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

consent_requests = Table(
    "consent_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("business_id", String(32), nullable=False),
    #: The business's own reference for its customer (shown back to it, never to others).
    Column("reference", String(64), nullable=False),
    #: The serial (hex) of the certificate the business verified, if it named the person so.
    Column("named_serial", String(40), nullable=True),
    #: SHA-256 of the one-time link's token, if the business asked by link.
    Column("link_hash", String(64), nullable=True, unique=True),
    #: Whose request it is: from the named certificate, or from the account that opened the
    #: link (until then none).
    Column("resident_code", String(15), nullable=True),
    Column("account_id", String(32), nullable=True),
    #: ``pending``, ``signed``, ``declined``, ``expired``.
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    #: The one-time signing URL: its token's SHA-256, its life and the session that asked.
    Column("sign_hash", String(64), nullable=True, unique=True),
    Column("sign_subject_id", String(64), nullable=True),
    Column("sign_created_at", DateTime(timezone=True), nullable=True),
    Column("sign_expires_at", DateTime(timezone=True), nullable=True),
    #: The document signed (canonical JSON), frozen when signing was asked for.
    Column("document", LargeBinary, nullable=True),
    Column("last_error", String(40), nullable=True),
    Column("consent_id", String(32), nullable=True),
    Index("ix_consent_requests_resident_code", "resident_code"),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", String(32), primary_key=True),
    Column("business_id", String(32), nullable=False),
    Column("request_id", String(32), nullable=False, unique=True),
    Column("reference", String(64), nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("resident_code", String(15), nullable=False),
    #: ``active`` or ``revoked``.
    Column("status", String(16), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("cms", LargeBinary, nullable=False),
    Column("signer_serial", String(40), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_consents_resident_code", "resident_code"),
    Index("ix_consents_account_id", "account_id"),
)

provisions = Table(
    "provisions",
    metadata,
    #: The order of the business's feed (its polling cursor).
    Column("seq", _ID, primary_key=True, autoincrement=True),
    #: The webhook's idempotency id, the same at every attempt.
    Column("provision_id", String(32), nullable=False, unique=True),
    Column("consent_id", String(32), nullable=False),
    Column("business_id", String(32), nullable=False),
    Column("event_id", String(64), nullable=False),
    #: ``moved_in``, ``moved_within``, ``name_changed``, ``died``, ``moved_abroad``.
    Column("reason", String(16), nullable=False),
    Column("changed_on", String(10), nullable=False),
    #: The 4 items as they became (JSON); ``{}`` once withdrawn.
    Column("items", Text, nullable=False),
    #: ``pending`` (webhook to send), ``delivered``, ``expired``, ``feed`` (no webhook: the
    #: business polls), ``withdrawn`` (the consent was revoked first).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_outcome", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("consent_id", "event_id", name="uq_provisions_consent_id_event_id"),
    Index("ix_provisions_business_id_seq", "business_id", "seq"),
    Index("ix_provisions_status_next_attempt_at", "status", "next_attempt_at"),
)

consent_log = Table(
    "consent_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("consent_id", String(32), nullable=True),
    Column("request_id", String(32), nullable=True),
    Column("business_id", String(32), nullable=False),
    #: ``granted``, ``revoked``, ``provided``, ``refused``, ``sign_refused``.
    Column("action", String(16), nullable=False),
    #: Who: ``person``, ``business``, ``registry`` (an event), ``operator``.
    Column("actor", String(16), nullable=False),
    #: Why (a code such as ``CONSENT_REVOKED``, or the event's type), never personal data.
    Column("detail", String(64), nullable=False),
    Column("event_id", String(64), nullable=True),
    Index("ix_consent_log_consent_id", "consent_id"),
)

processed_events = processed_events_table(metadata)

LATEST_ITEMS_STORE = register_kind(
    StoreKind(LATEST_ITEMS_KIND, metadata, migrations="openmyna.latest_items:migrations")
)
