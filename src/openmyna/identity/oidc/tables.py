"""The provider's own database: store kind ``identity_oidc``, one body ``provider``.

- ``clients``: the relying parties an administrator registered (exact redirect URIs, allowed
  scopes, a contact, how they authenticate at the token endpoint; a secret only as its
  SHA-256, a ``private_key_jwt`` client's public JWKS), and their sector for the subject.
- ``signing_keys``: the ID-token signing keys, each an encrypted PKCS#8 under the
  installation's key-encryption secret (as the JPKI CA keys are); a retired key no longer
  signs but stays published until the tokens it signed have expired.
- ``authorizations``: an authorization request between the client's redirect and the
  person's answer on the consent screen (the validated request, whose account, what the
  signature step gave).
- ``codes``: authorization codes (only their SHA-256), one use each; a code keeps the nonce,
  so a nonce seen before for the same client is refused.
- ``tokens``: access and refresh tokens (only their SHA-256); a refresh rotates the pair.
- ``assertions``: the ``private_key_jwt`` assertions seen, so each is used once.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from openmyna.portal.tables import NAMING
from openmyna.store import StoreKind, register_kind

OIDC_KIND = "identity_oidc"
OIDC_BODY = "provider"

metadata = MetaData(naming_convention=NAMING)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contact", String(200), nullable=False),
    #: JSON lists.
    Column("redirect_uris", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    #: ``private_key_jwt`` or ``client_secret_basic``.
    Column("auth_method", String(32), nullable=False),
    Column("secret_sha256", String(64), nullable=True),
    #: The client's public keys (JWKS JSON) for ``private_key_jwt``.
    Column("jwks", Text, nullable=True),
    #: The sector the pairwise subject is computed for (the redirect URIs' host by default).
    Column("sector", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True), nullable=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(40), primary_key=True),
    Column("private_pkcs8", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    #: From then on the key no longer signs.
    Column("retired_at", DateTime(timezone=True), nullable=True),
    #: From then on the key is no longer published (the last token it signed has expired).
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

authorizations = Table(
    "authorizations",
    metadata,
    Column("authorization_id", String(32), primary_key=True),
    Column("client_id", String(40), nullable=False),
    #: The authorization request's parameters (JSON), as validated.
    Column("params", Text, nullable=False),
    Column("account_id", String(32), nullable=True),
    Column("subject_id", String(64), nullable=True),
    #: ``pending``, ``signing`` (a signature request is out), ``signed``, ``done``, ``denied``.
    Column("status", String(16), nullable=False),
    #: The SHA-256 of the signature request's one-time token, and the document it signs.
    Column("sign_token_sha256", String(64), nullable=True),
    Column("document", LargeBinary, nullable=True),
    #: What the signature step gave (JSON: the 4 items, the CMS), dropped once used.
    Column("signed", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_authorizations_sign_token_sha256", "sign_token_sha256", unique=True),
)

codes = Table(
    "codes",
    metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("client_id", String(40), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("nonce", String(255), nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("code_challenge_method", String(8), nullable=False),
    Column("acr", String(64), nullable=False),
    Column("auth_time", Integer, nullable=False),
    #: What goes to the client beyond the subject (JSON: the 4 items, the signature).
    Column("claims", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("client_id", "nonce", name="uq_codes_client_id_nonce"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("access_sha256", String(64), nullable=False, unique=True),
    Column("refresh_sha256", String(64), nullable=True, unique=True),
    Column("client_id", String(40), nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    Column("acr", String(64), nullable=False),
    Column("auth_time", Integer, nullable=False),
    Column("claims", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("access_expires_at", DateTime(timezone=True), nullable=False),
    Column("refresh_expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_tokens_account_id", "account_id"),
)

#: The ``jti`` of each ``private_key_jwt`` assertion seen (its SHA-256 with the client's id),
#: kept until the assertion expires: an assertion is used once (RFC 7523 §3).
assertions = Table(
    "assertions",
    metadata,
    Column("jti_sha256", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

OIDC_STORE = register_kind(
    StoreKind(OIDC_KIND, metadata, migrations="openmyna.identity.oidc:migrations")
)
