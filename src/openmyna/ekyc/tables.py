"""The platform operator's own database: store kind ``ekyc``, one body ``ekyc``.

- ``businesses``: the businesses (署名検証者 that entrust the check to the platform operator)
  the operator registered: name, contact, price per query, status (``active``/``suspended``).
- ``api_keys``: each business's API keys; the key is shown once, the table keeps only the
  SHA-256 of its secret part (the key is 32 random bytes: no slow hash is needed).
- ``audit_log``: append-only (database triggers), one row per thing done for or by a
  business: a verification (what was checked — certificate serial, the signed data's SHA-256
  — when, the result code, the certificate status and where it came from, whether it was
  billed and at what price) and the operator's changes (registered, key issued, suspended).
  Never the 4 items and never an individual number (no JPKI certificate carries one).
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
)

from openmyna.store import StoreKind, register_kind

EKYC_KIND = "ekyc"
EKYC_BODY = "ekyc"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

businesses = Table(
    "businesses",
    metadata,
    Column("business_id", String(24), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contact", String(200), nullable=False),
    #: What one billed query costs this business, in yen (the operator's contract).
    Column("price_yen", Integer, nullable=False),
    #: ``active`` or ``suspended``.
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(24), primary_key=True),
    Column("business_id", String(24), nullable=False),
    #: SHA-256 (hex) of the key's secret part.
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_business_id", "business_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("business_id", String(24), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    #: ``verify`` (a query), or the operator's ``business.add``, ``key.add``, ``key.revoke``,
    #: ``business.suspend``, ``business.resume``.
    Column("action", String(24), nullable=False),
    #: ``accepted`` or the refusal's code (``CERT_REVOKED``, ``CMS_DIGEST_MISMATCH``, …).
    Column("result", String(40), nullable=False),
    #: The API key used (a query) or ``operator``.
    Column("actor", String(24), nullable=False),
    #: The certificate checked: its serial (hex) and kind, when one was read.
    Column("cert_serial", String(64), nullable=True),
    Column("cert_kind", String(8), nullable=True),
    #: SHA-256 (hex) of the data the customer signed (the business's challenge or document).
    Column("data_sha256", String(64), nullable=True),
    #: The certificate status at the time of use: ``good``, ``revoked``, ``suspended``,
    #: ``unknown``, and where it came from (``ocsp``).
    Column("cert_status", String(16), nullable=True),
    Column("status_source", String(8), nullable=True),
    Column("billed", Boolean, nullable=False),
    Column("price_yen", Integer, nullable=False),
    Index("ix_audit_log_business_id_recorded_at", "business_id", "recorded_at"),
    sqlite_autoincrement=True,
)

EKYC_STORE = register_kind(StoreKind(EKYC_KIND, metadata, migrations="openmyna.ekyc:migrations"))
