"""The card register's tables: store kind ``card``, one body ``jlis`` (the issuer's role).

The register holds no personal data beyond the resident-record code: card ids, statuses,
dates, certificate serial numbers, applications, pending moves and the audit log. The
individual number and the 4 items live on the card and in the registry only.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, MetaData, String, Table, text

from openmyna.bus import outbox_table, processed_events_table
from openmyna.store import StoreKind, register_kind

CARD_KIND = "card"
ISSUER_BODY = "jlis"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
VALID_STATUSES = "status IN ('active', 'suspended')"

metadata = MetaData(naming_convention=NAMING)

cards = Table(
    "cards",
    metadata,
    Column("card_id", String(32), primary_key=True),
    Column("resident_code", String(11), nullable=False),
    Column("lg_code", String(6), nullable=False),
    Column("application_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(32), nullable=True),
    Column("issued_on", Date, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("auth_cert_serial", String(64), nullable=False),
    Column("sign_cert_serial", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Set when the registry changed the 4 items the chip holds (a move, a new name): the day,
    # and which items ("address", "name", comma-separated); cleared by the counter's update.
    Column("data_stale_since", Date, nullable=True),
    Column("data_stale_items", String(32), nullable=True),
    # A person holds at most one card that is still valid (active or suspended).
    Index(
        "uq_cards_valid_resident",
        "resident_code",
        unique=True,
        sqlite_where=text(VALID_STATUSES),
        postgresql_where=text(VALID_STATUSES),
    ),
    Index("ix_cards_resident_code", "resident_code"),
    Index("ix_cards_status", "status"),
)

applications = Table(
    "applications",
    metadata,
    Column("application_id", String(32), primary_key=True),
    Column("resident_code", String(11), nullable=False),
    Column("lg_code", String(6), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("applied_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("card_id", String(32), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_applications_resident_code", "resident_code"),
)

#: Moves in progress for people holding a card: awaiting the move-in (転入届), then awaiting
#: the card's continued-use step (継続利用) at the new municipality.
moves = Table(
    "moves",
    metadata,
    Column("resident_code", String(11), primary_key=True),
    Column("state", String(24), nullable=False),
    Column("from_lg_code", String(6), nullable=False),
    Column("planned_on", Date, nullable=False),
    Column("moved_in_on", Date, nullable=True),
    Column("registered_on", Date, nullable=True),
    Column("to_lg_code", String(6), nullable=True),
    Column("continuation_due", Date, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("action", String(64), nullable=False),
    Column("card_id", String(32), nullable=True),
    Column("resident_code", String(11), nullable=True),
    Column("event_id", String(64), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Index("ix_audit_log_card_id", "card_id"),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)

CARD_STORE = register_kind(StoreKind(CARD_KIND, metadata, migrations="openmyna.card:migrations"))
