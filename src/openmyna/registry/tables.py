"""Database tables of the two store kinds: a municipality's registry and the national index.

SQLAlchemy Core tables (no ORM): the services map rows to the frozen models themselves, and
the bulk path inserts with ``executemany``. The Alembic migrations create exactly these.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    text,
)

from openmyna.bus import outbox_table, processed_events_table
from openmyna.store import StoreKind, register_kind

REGISTRY_KIND = "registry"
INDEX_KIND = "identity_index"
NATIONAL_BODY = "national"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# --- store kind "registry": one body per municipality (body id = lg_code) -----------------

registry_metadata = MetaData(naming_convention=NAMING)

households = Table(
    "households",
    registry_metadata,
    Column("household_id", String(32), primary_key=True),
    Column("address", String(200), nullable=False),
    Column("head_resident_code", String(11), nullable=True),
    Column("status", String(16), nullable=False),  # current | dissolved
    Column("created_on", Date, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

residents = Table(
    "residents",
    registry_metadata,
    Column("record_id", Integer, primary_key=True, autoincrement=True),
    Column("resident_code", String(11), nullable=False),
    Column("individual_number", String(12), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("given_name", String(100), nullable=False),
    Column("family_name_kana", String(100), nullable=False),
    Column("given_name_kana", String(100), nullable=False),
    Column("former_surname", String(100), nullable=True),
    Column("former_surname_kana", String(100), nullable=True),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", SmallInteger, nullable=False),
    Column("address", String(200), nullable=False),
    Column(
        "household_id",
        String(32),
        ForeignKey("households.household_id"),
        nullable=False,
    ),
    Column("relationship", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("arrival", String(24), nullable=False),
    Column("resident_since", Date, nullable=False),
    Column("address_since", Date, nullable=False),
    Column("previous_address", String(200), nullable=True),
    Column("moved_in_from_lg_code", String(6), nullable=True),
    #: The move-out certificate this record arrived with (makes move-in retries idempotent).
    Column("in_certificate_id", String(32), nullable=True),
    Column("removed_on", Date, nullable=True),
    Column("removal_reason", String(16), nullable=True),
    Column("destination", String(200), nullable=True),
    Column("destination_lg_code", String(6), nullable=True),
    #: The move-out certificate issued when this record moved out.
    Column("out_certificate_id", String(32), nullable=True),
    #: The head of household's name when the record was removed (shown on 除票の写し).
    Column("head_name_at_removal", String(201), nullable=True),
    Column("moved_in_at_lg_code", String(6), nullable=True),
    Column("moved_in_at_on", Date, nullable=True),
    Column("seq", Integer, nullable=False),
    Column("last_event_on", Date, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    #: 在留期間等の満了の日 (住民基本台帳法 第30条の45): a foreign resident's end of stay; null
    #: for those without one (Japanese nationals, 永住者, 特別永住者, 高度専門職第2号).
    Column("stay_expires_on", Date, nullable=True),
    # One current record per code and per number; removed records (除票) may repeat them.
    Index(
        "uq_residents_current_code",
        "resident_code",
        unique=True,
        sqlite_where=text("status = 'current'"),
        postgresql_where=text("status = 'current'"),
    ),
    Index(
        "uq_residents_current_number",
        "individual_number",
        unique=True,
        sqlite_where=text("status = 'current'"),
        postgresql_where=text("status = 'current'"),
    ),
    Index("ix_residents_resident_code", "resident_code"),
    Index("ix_residents_household_id", "household_id"),
    Index("ix_residents_status", "status"),
)

audit_log = Table(
    "audit_log",
    registry_metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("action", String(64), nullable=False),
    Column("event_id", String(64), nullable=True),
    Column("resident_code", String(11), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Index("ix_audit_log_resident_code", "resident_code"),
)

# The bus's outbox (events staged with each change, relayed to the bus, then deleted).
outbox = outbox_table(registry_metadata)

# --- store kind "identity_index": one body, "national" ----------------------------------

index_metadata = MetaData(naming_convention=NAMING)

identities = Table(
    "identities",
    index_metadata,
    Column("resident_code", String(11), primary_key=True),
    Column("individual_number", String(12), nullable=False, unique=True),
    Column("family_name", String(100), nullable=False),
    Column("given_name", String(100), nullable=False),
    Column("family_name_kana", String(100), nullable=False),
    Column("given_name_kana", String(100), nullable=False),
    Column("former_surname", String(100), nullable=True),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", SmallInteger, nullable=False),
    Column("address", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lg_code", String(6), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_event_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    #: The end of a foreign resident's period of stay: card and JPKI validity end by then.
    Column("stay_expires_on", Date, nullable=True),
    Index("ix_identities_lg_code", "lg_code"),
)

municipalities = Table(
    "municipalities",
    index_metadata,
    Column("lg_code", String(6), primary_key=True),
    Column("prefecture", String(16), nullable=False),
    Column("name", String(32), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

# The bus's inbox (processed event ids) lives in the index body: marking an event processed
# commits in the same transaction as its effect.
processed_events = processed_events_table(index_metadata)

register_kind(
    StoreKind(REGISTRY_KIND, registry_metadata, migrations="openmyna.registry:migrations/registry")
)
register_kind(
    StoreKind(INDEX_KIND, index_metadata, migrations="openmyna.registry:migrations/identity_index")
)
