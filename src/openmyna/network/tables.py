"""Database tables of the network hub (コアシステム): store kind ``hub``, body ``core``.

The hub holds no personal data in clear: agency-specific codes are sealed (AES-GCM) and found
through keyed hashes; exchange records name the person by an opaque key and never hold the
content of an exchange. The Alembic migrations create exactly these tables.
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
    UniqueConstraint,
)

from openmyna.store import StoreKind, register_kind

HUB_KIND = "hub"
HUB_BODY = "core"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

hub_metadata = MetaData(naming_convention=NAMING)

# One row per (person, agency). ``code_index`` = HMAC(key, agency ‖ code) finds a row by code;
# ``person_index`` = HMAC(key, resident code) groups a person's rows; ``sealed`` is
# AES-GCM(nonce ‖ ciphertext) of the resident code and the code, bound to the row's agency.
agency_codes = Table(
    "agency_codes",
    hub_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency_id", String(40), nullable=False),
    Column("code_index", String(64), nullable=False),
    Column("person_index", String(64), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("code_index"),
    UniqueConstraint("person_index", "agency_id"),
)

# 情報提供等記録: the hash chain. ``seq`` is assigned under the chain-head lock, from 1.
exchange_records = Table(
    "exchange_records",
    hub_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("requester", String(40), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("affair", String(64), nullable=False),
    Column("item", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("person_key", String(64), nullable=True),
    Column("exchange_id", String(64), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # A person's records by time (the portal's やりとり履歴, paged newest first), covering its
    # filters (agency, item) so that filtering and counting read the index alone: hub_0003.
    Index(
        "ix_exchange_records_person_time",
        "person_key",
        "recorded_at",
        "seq",
        "requester",
        "provider",
        "item",
    ),
    Index(None, "recorded_at"),
)

# The head of the chain: one row (id = 1), locked by every append.
chain_head = Table(
    "chain_head",
    hub_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Signed checkpoints: ECDSA P-256 / SHA-256 over (seq, head hash, time, key id).
checkpoints = Table(
    "checkpoints",
    hub_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("head_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# The oversight body's (個人情報保護委員会) own queries: who, when, which filter.
oversight_queries = Table(
    "oversight_queries",
    hub_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queried_at", DateTime(timezone=True), nullable=False),
    Column("auditor", String(64), nullable=False),
    Column("filter", String(1000), nullable=False),
    Column("result_count", Integer, nullable=False),
)

# One row per exchange, keyed by (requester, idempotency key): what makes a retry (after a
# provider or hub failure) continue the same exchange instead of starting a second one.
# ``state``: open (forwarded, no record yet), done (recorded), refused (recorded refusal).
hub_exchanges = Table(
    "hub_exchanges",
    hub_metadata,
    Column("exchange_id", String(40), primary_key=True),
    Column("requester", String(40), nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("request_digest", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("requester", "idempotency_key"),
    Index(None, "state", "opened_at"),
)

# Message ids seen by any hub process, kept until the message expires (the replay guard).
seen_messages = Table(
    "seen_messages",
    hub_metadata,
    Column("sender", String(40), primary_key=True),
    Column("message_id", String(32), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index(None, "expires_at"),
)

# Where each agency node listens: registered by the node itself over mutual TLS.
hub_nodes = Table(
    "hub_nodes",
    hub_metadata,
    Column("agency_id", String(40), primary_key=True),
    Column("url", String(200), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

HUB = register_kind(StoreKind(HUB_KIND, hub_metadata, migrations="openmyna.network:migrations/hub"))
