"""The JPKI issuer's own database (store kind ``pki``, body ``jlis``): what it issued and revoked.

- ``certificates``: one row per issued end-entity certificate, with its current status.
- ``revocation_log``: every status change (revoke, suspend, resume), append-only in the
  database itself (triggers refuse UPDATE and DELETE). Its ids also tell an OCSP responder in
  another process which serials changed since it last looked.
- ``crls``: the CRLs published for each CA, numbered.
- ``processed_events``: the inbox of the bus consumer that revokes on registry/card events.
"""

from __future__ import annotations

import sqlalchemy as sa

from openmyna.bus import processed_events_table
from openmyna.store import StoreKind, register_kind

STORE_KIND = "pki"
#: The JPKI issuer (地方公共団体情報システム機構, J-LIS, runs it).
BODY_ID = "jlis"

metadata = sa.MetaData()

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("serial", sa.String(40), primary_key=True),  # lowercase hex
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("resident_code", sa.String(11), nullable=False),
    sa.Column("card_id", sa.String(64), nullable=True),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("der", sa.LargeBinary(), nullable=False),
    sa.Index("ix_certificates_resident", "resident_code", "kind"),
)

revocation_log = sa.Table(
    "revocation_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("serial", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("action", sa.String(12), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sqlite_autoincrement=True,
)

crls = sa.Table(
    "crls",
    metadata,
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("number", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
    #: The last ``revocation_log`` id this CRL includes.
    sa.Column("last_change", sa.BigInteger(), nullable=False),
    sa.Column("der", sa.LargeBinary(), nullable=False),
)

processed_events = processed_events_table(metadata)

PKI_KIND = register_kind(StoreKind(STORE_KIND, metadata, migrations="openmyna.pki:migrations"))
