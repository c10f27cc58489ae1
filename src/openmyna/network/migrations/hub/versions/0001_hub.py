"""The hub: sealed agency-specific codes, the exchange-record chain, checkpoints, oversight log.

Revision ID: hub_0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openmyna.store.append_only import drop_append_only, make_append_only

revision = "hub_0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = ("exchange_records", "checkpoints", "oversight_queries")


def upgrade() -> None:
    op.create_table(
        "agency_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(40), nullable=False),
        sa.Column("code_index", sa.String(64), nullable=False),
        sa.Column("person_index", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agency_codes"),
        sa.UniqueConstraint("code_index", name="uq_agency_codes_code_index"),
        sa.UniqueConstraint(
            "person_index", "agency_id", name="uq_agency_codes_person_index_agency_id"
        ),
    )
    op.create_table(
        "exchange_records",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requester", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("affair", sa.String(64), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("exchange_id", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_exchange_records"),
    )
    op.create_index("ix_exchange_records_person_key", "exchange_records", ["person_key"])
    op.create_index("ix_exchange_records_recorded_at", "exchange_records", ["recorded_at"])
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chain_head"),
    )
    # The chain starts empty: sequence 0, the genesis hash (64 zeros).
    op.bulk_insert(
        sa.table("chain_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_checkpoints"),
    )
    op.create_table(
        "oversight_queries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queried_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("auditor", sa.String(64), nullable=False),
        sa.Column("filter", sa.String(1000), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oversight_queries"),
    )
    for table in _APPEND_ONLY:
        make_append_only(table)


def downgrade() -> None:
    for table in reversed(_APPEND_ONLY):
        drop_append_only(table)
    op.drop_table("oversight_queries")
    op.drop_table("checkpoints")
    op.drop_table("chain_head")
    op.drop_table("exchange_records")
    op.drop_table("agency_codes")
