"""The back office's own database: store kind ``portal_backoffice``, one body ``portal``.

- ``staff_grants``: the staff register — which portal account holds which role at which
  municipality (one role per account and municipality; an account may work for several).
- ``staff_log``: every action of staff, with who did it and what it came to; append-only
  (database triggers, ``openmyna.store.append_only``).
- ``resident_handles``: opaque handles a page uses for a resident (or a move-out certificate
  being moved in) instead of the resident-record code, valid only for the session that got
  them, so no code of a person travels in a URL.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table

from openmyna.store import StoreKind, register_kind

BACKOFFICE_KIND = "portal_backoffice"
BACKOFFICE_BODY = "portal"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

staff_grants = Table(
    "staff_grants",
    metadata,
    #: The portal account (``portal.accounts``) the person logs in to with their card.
    Column("account_id", String(32), primary_key=True),
    Column("lg_code", String(6), primary_key=True),
    #: ``clerk``, ``supervisor`` or ``administrator`` (``staff.Role``).
    Column("role", String(16), nullable=False),
    #: The name the register shows for the staff member (the employer's own record).
    Column("name", String(64), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    #: ``staff:<account id>`` of the administrator, or ``operator`` (the CLI's bootstrap).
    Column("granted_by", String(40), nullable=False),
)

staff_log = Table(
    "staff_log",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("lg_code", String(6), nullable=False),
    #: The staff member's account, or None for the installation's operator (the CLI).
    Column("account_id", String(32), nullable=True),
    #: Their name in the register at the time (``operator`` for the CLI).
    Column("actor_name", String(64), nullable=False),
    #: ``resident.search``, ``registry.move_within``, ``card.issue``, ``staff.grant`` …
    Column("action", String(40), nullable=False),
    #: What it acted on: ``resident``, ``card``, ``staff`` (or None, e.g. for a search).
    Column("subject_kind", String(16), nullable=True),
    #: The resident-record code, card id or account id acted on.
    Column("subject", String(40), nullable=True),
    #: The identity documents seen, the items changed, a count — never a name or an address.
    Column("detail", String(200), nullable=False),
    #: ``done``, or the stable code of the error that refused it.
    Column("outcome", String(40), nullable=False),
    Index("ix_staff_log_lg_code", "lg_code"),
)

resident_handles = Table(
    "resident_handles",
    metadata,
    Column("handle", String(32), primary_key=True),
    #: The portal session that got the handle: no other session can use it.
    Column("session_id", String(32), nullable=False),
    Column("lg_code", String(6), nullable=False),
    #: ``resident`` (a record of this registry) or ``move_in`` (a move-out certificate).
    Column("kind", String(16), nullable=False),
    Column("resident_code", String(11), nullable=False),
    #: For ``move_in``: the municipality the person moved out of.
    Column("from_lg_code", String(6), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_resident_handles_session_id", "session_id"),
)

BACKOFFICE_STORE = register_kind(
    StoreKind(BACKOFFICE_KIND, metadata, migrations="openmyna.portal.backoffice:migrations")
)
