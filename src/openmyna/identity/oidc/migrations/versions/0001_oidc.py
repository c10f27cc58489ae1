"""The OpenID Connect provider: clients, signing keys, authorizations, codes, tokens, assertions.

Revision ID: identity_oidc_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identity_oidc_0001"
down_revision = None
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=True),
        sa.Column("jwks", sa.Text, nullable=True),
        sa.Column("sector", sa.String(255), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("removed_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("client_id", name="pk_clients"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(40), nullable=False),
        sa.Column("private_pkcs8", sa.LargeBinary, nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("retired_at", _WHEN, nullable=True),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )
    op.create_table(
        "authorizations",
        sa.Column("authorization_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("account_id", sa.String(32), nullable=True),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sign_token_sha256", sa.String(64), nullable=True),
        sa.Column("document", sa.LargeBinary, nullable=True),
        sa.Column("signed", sa.Text, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("authorization_id", name="pk_authorizations"),
    )
    op.create_index(
        "ix_authorizations_sign_token_sha256",
        "authorizations",
        ["sign_token_sha256"],
        unique=True,
    )
    op.create_table(
        "codes",
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(255), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(8), nullable=False),
        sa.Column("acr", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.Integer, nullable=False),
        sa.Column("claims", sa.Text, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name="pk_codes"),
        sa.UniqueConstraint("client_id", "nonce", name="uq_codes_client_id_nonce"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("access_sha256", sa.String(64), nullable=False),
        sa.Column("refresh_sha256", sa.String(64), nullable=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("acr", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.Integer, nullable=False),
        sa.Column("claims", sa.Text, nullable=False),
        sa.Column("issued_at", _WHEN, nullable=False),
        sa.Column("access_expires_at", _WHEN, nullable=False),
        sa.Column("refresh_expires_at", _WHEN, nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_tokens"),
        sa.UniqueConstraint("access_sha256", name="uq_tokens_access_sha256"),
        sa.UniqueConstraint("refresh_sha256", name="uq_tokens_refresh_sha256"),
    )
    op.create_index("ix_tokens_account_id", "tokens", ["account_id"])
    op.create_table(
        "assertions",
        sa.Column("jti_sha256", sa.String(64), nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("jti_sha256", name="pk_assertions"),
    )


def downgrade() -> None:
    op.drop_table("assertions")
    op.drop_index("ix_tokens_account_id", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("codes")
    op.drop_index("ix_authorizations_sign_token_sha256", table_name="authorizations")
    op.drop_table("authorizations")
    op.drop_table("signing_keys")
    op.drop_table("clients")
