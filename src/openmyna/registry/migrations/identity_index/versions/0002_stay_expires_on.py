"""A foreign resident's period of stay in the identity index, for card and JPKI validity.

Revision ID: identity_index_0002
Revises: identity_index_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identity_index_0002"
down_revision = "identity_index_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("identities", sa.Column("stay_expires_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("identities", "stay_expires_on")
