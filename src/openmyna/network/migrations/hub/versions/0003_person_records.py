"""A person's exchange records by time: the index the portal's やりとり履歴 pages on.

The portal lists one person's records newest first, filtered by period, agency and item, ten
thousand of them for a busy person; (person_key, recorded_at, seq, requester, provider, item)
serves the filters, the order and the count from the index alone. It replaces the index on
person_key, of which it is an extension.

Revision ID: hub_0003
Revises: hub_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "hub_0003"
down_revision = "hub_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_exchange_records_person_time",
        "exchange_records",
        ["person_key", "recorded_at", "seq", "requester", "provider", "item"],
    )
    op.drop_index("ix_exchange_records_person_key", table_name="exchange_records")


def downgrade() -> None:
    op.create_index("ix_exchange_records_person_key", "exchange_records", ["person_key"])
    op.drop_index("ix_exchange_records_person_time", table_name="exchange_records")
