"""A foreign resident's period of stay: 在留期間等の満了の日 on the resident record.

Revision ID: registry_0002
Revises: registry_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for everyone without a period of stay (Japanese nationals, permanent residents).
    op.add_column("residents", sa.Column("stay_expires_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("residents", "stay_expires_on")
