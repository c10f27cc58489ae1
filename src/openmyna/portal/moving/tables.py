"""The moving one-stop's own database: store kind ``portal_moving``, one body ``portal``.

- ``move_out_notices``: the online move-out notices (転出届) a municipality's back office
  recorded in its registry: which application, whose account, which resident, to where.
  One row per application: a second recording of the same notice finds it.
- ``planned_move_ins``: the planned move-ins (転入予定) each destination was told of, one row
  per move-out event on the bus (``registry.moved_out`` naming the destination), updated
  by the destination's ``registry.moved_in`` when the move-in is done.
- ``visits``: counter visits booked at the destination (来庁予約), at most one booked
  visit per planned move-in; a cancelled one stays as a row.
- ``processed_events``: the bus inbox (each registry event applied once).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, MetaData, String, Table

from openmyna.bus import processed_events_table
from openmyna.store import StoreKind, register_kind

MOVING_KIND = "portal_moving"
MOVING_BODY = "portal"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

move_out_notices = Table(
    "move_out_notices",
    metadata,
    #: The e-application (``portal.eapply``) of form ``move-out-notice``.
    Column("application_id", String(32), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("from_lg_code", String(6), nullable=False),
    Column("to_lg_code", String(6), nullable=False),
    #: The notifier's resident-record code (from the signature certificate's issuer record).
    Column("resident_code", String(11), nullable=False),
    Column("planned_on", Date, nullable=False),
    #: ``recording`` while the registry is written, then ``recorded``.
    Column("state", String(16), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(40), nullable=False),
    Index("ix_move_out_notices_account_id", "account_id"),
)

planned_move_ins = Table(
    "planned_move_ins",
    metadata,
    Column("move_id", String(32), primary_key=True),
    #: The bus event that told the destination (``registry.moved_out``).
    Column("event_id", String(64), nullable=False, unique=True),
    Column("to_lg_code", String(6), nullable=False),
    Column("from_lg_code", String(6), nullable=False),
    Column("resident_code", String(11), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kana", String(200), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    #: The address at the origin (the new one is on the move-out certificate at the origin).
    Column("from_address", String(200), nullable=False),
    Column("planned_on", Date, nullable=False),
    Column("told_at", DateTime(timezone=True), nullable=False),
    #: ``planned`` until the move-in is registered, then ``moved_in``.
    Column("status", String(16), nullable=False),
    Column("moved_in_on", Date, nullable=True),
    Column("new_address", String(200), nullable=True),
    Index("ix_planned_move_ins_to_lg_code", "to_lg_code"),
    Index("ix_planned_move_ins_resident_code", "resident_code"),
)

visits = Table(
    "visits",
    metadata,
    Column("visit_id", String(32), primary_key=True),
    Column("move_id", String(32), nullable=False),
    Column("lg_code", String(6), nullable=False),
    Column("account_id", String(32), nullable=False),
    #: The slot's start (UTC); the slot's length is the counter's.
    Column("starts_at", DateTime(timezone=True), nullable=False),
    #: ``booked`` or ``cancelled``.
    Column("status", String(16), nullable=False),
    Column("booked_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Index("ix_visits_lg_code_starts_at", "lg_code", "starts_at"),
    Index("ix_visits_move_id", "move_id"),
)

processed_events = processed_events_table(metadata)

MOVING_STORE = register_kind(
    StoreKind(MOVING_KIND, metadata, migrations="openmyna.portal.moving:migrations")
)
