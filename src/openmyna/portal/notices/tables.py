"""The notices' own database: store kind ``portal_notices``, one body ``portal``.

- ``notices``: one row per notice an agency posted, addressed by the portal's own
  agency-specific code for the person (``portal_code``; never the number, never the
  sender's code). ``(sender, idempotency_key)`` is unique: a repeated post is the same
  notice; ``request_digest`` tells a retry from another notice under a reused key.
- ``delivery_settings``: per account, whether its notices are forwarded to a private
  delivery service (民間送達) and to which one of the installation's list; ``recipient_id``
  is the opaque id the service knows the person by (a pairwise id: no code, no account id).
- ``deliveries``: the outbox of webhook deliveries, written in the transaction that stores
  the notice, sent by the platform's background loop, retried with backoff until delivered.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from openmyna.portal.tables import NAMING, PORTAL_BODY
from openmyna.store import StoreKind, register_kind

NOTICES_KIND = "portal_notices"
NOTICES_BODY = PORTAL_BODY

metadata = MetaData(naming_convention=NAMING)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(32), primary_key=True),
    #: The portal's agency-specific code for the recipient.
    Column("portal_code", String(64), nullable=False),
    #: The agency that posted it (its id on the network, from its TLS certificate).
    Column("sender", String(40), nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    #: SHA-256 (hex) of the notice as posted (recipient and content).
    Column("request_digest", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("title", String(100), nullable=False),
    Column("body", Text, nullable=False),
    #: A path on the portal (an application or a payment), or none.
    Column("link", String(120), nullable=True),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("sender", "idempotency_key", name="uq_notices_sender_idempotency_key"),
    Index("ix_notices_portal_code_posted_at", "portal_code", "posted_at"),
)

delivery_settings = Table(
    "delivery_settings",
    metadata,
    Column("account_id", String(32), primary_key=True),
    Column("portal_code", String(64), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    #: The service's id in the installation's list (kept when forwarding is turned off).
    Column("service_id", String(40), nullable=True),
    #: The opaque id the service knows the person by (made when a service is chosen).
    Column("recipient_id", String(32), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    #: One delivery per notice: its id is the notice's (the webhook's idempotency id).
    Column("notice_id", String(32), primary_key=True),
    Column("service_id", String(40), nullable=False),
    Column("recipient_id", String(32), nullable=False),
    #: ``pending``, ``delivered``, ``expired`` (given up after ``DELIVERY_GIVE_UP``).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    #: What the last attempt met: ``http_503``, ``connect_error``, ``timeout``, …
    Column("last_outcome", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

NOTICES_STORE = register_kind(
    StoreKind(NOTICES_KIND, metadata, migrations="openmyna.portal.notices:migrations")
)
