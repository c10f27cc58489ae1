"""公金決済's tables: store kind ``portal_payments``, body ``portal``.

- ``payments``: what an agency asks a person to pay (a tax, a premium, a fee), addressed by
  the portal's code for the person, with the Pay-easy numbers a bank would show
  (収納機関番号, 納付番号, 確認番号); paid once, with its receipt number.
- ``payment_attempts``: each time the person starts paying (a method, the provider's
  reference, the outcome); the attempt id is the form's idempotency key.
- ``payment_log``: every change, append-only.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, MetaData, String, Table

from openmyna.store import StoreKind, register_kind

PAYMENTS_KIND = "portal_payments"
PAYMENTS_BODY = "portal"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(32), primary_key=True),
    Column("portal_code", String(64), nullable=False),
    #: The agency asking (its network id) and its key for this request (one payment per key).
    Column("agency_id", String(40), nullable=False),
    Column("agency_key", String(64), nullable=False),
    Column("purpose", String(120), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("due_on", Date, nullable=False),
    #: Pay-easy: 収納機関番号 (5 digits), 納付番号, 確認番号.
    Column("payee_number", String(5), nullable=False),
    Column("customer_number", String(20), nullable=False),
    Column("confirmation_number", String(16), nullable=False),
    #: ``pending``, ``paid``, ``cancelled``.
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("paid_by_attempt", String(32), nullable=True),
    Column("receipt_number", String(24), nullable=True, unique=True),
    Index("ix_payments_portal_code", "portal_code"),
    Index("uq_payments_agency_id_agency_key", "agency_id", "agency_key", unique=True),
)

payment_attempts = Table(
    "payment_attempts",
    metadata,
    Column("attempt_id", String(32), primary_key=True),
    Column("payment_id", String(32), nullable=False),
    #: ``card`` (クレジットカード) or ``payeasy`` (ペイジー, ネットバンキング).
    Column("method", String(16), nullable=False),
    Column("provider_ref", String(64), nullable=True),
    #: ``started``, ``succeeded``, ``declined``, ``duplicate`` (the payment was already paid).
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Index("ix_payment_attempts_payment_id", "payment_id"),
)

payment_log = Table(
    "payment_log",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("payment_id", String(32), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", String(200), nullable=False),
    Index("ix_payment_log_payment_id", "payment_id"),
)

PAYMENTS_STORE = register_kind(
    StoreKind(PAYMENTS_KIND, metadata, migrations="openmyna.portal.payments:migrations")
)
