"""The portal's own database: store kind ``portal``, one body ``portal``.

- ``accounts``: one per person who logged in, by an opaque id. The portal holds the person's
  agency-specific code for the portal (obtained once at the first login through the network)
  and never the individual number nor the 4 items.
- ``account_certificates``: the user-authentication certificates that log in to an account
  (issuer and serial); a renewed card's certificate is linked to the account through the
  issuer's serial-number linkage.
- ``sessions``: server-side sessions; the cookie carries a random token, the table only its
  SHA-256. Idle and absolute expiry, the CSRF token, and why a session ended.
- ``login_requests``: one-time login requests (QR code and short code), answered by a card
  (``portal.login``).
- ``cursors``: how far the portal has followed another log (the JPKI revocation log).
- ``login_history``: every login and logout, append-only (database triggers).
- ``proxy_grants``: 代理人 grants (``portal.proxy``): a principal's scoped, time-limited
  access for a proxy, redeemed by a one-time invitation code; ``sessions.acting_for`` /
  ``acting_grant`` say that a session acts for a principal under one.
- ``proxy_log``: every request made while acting, allowed or refused, append-only.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table

from openmyna.store import StoreKind, register_kind

PORTAL_KIND = "portal"
PORTAL_BODY = "portal"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(32), primary_key=True),
    #: The portal's agency-specific code for the person (情報提供用個人識別符号 of the portal).
    Column("portal_code", String(64), nullable=False, unique=True),
    Column("language", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

account_certificates = Table(
    "account_certificates",
    metadata,
    #: ``subject_id`` of ``openmyna.pki.verify`` (issuer and serial, hashed): the login key.
    Column("subject_id", String(64), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("not_after", DateTime(timezone=True), nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    #: ``first_login`` or ``issuer_linkage`` (a renewed card's certificate).
    Column("linked_by", String(16), nullable=False),
    Index("ix_account_certificates_account_id", "account_id"),
)

sessions = Table(
    "sessions",
    metadata,
    #: SHA-256 (hex) of the cookie's token: a copy of the table logs no one in.
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(32), nullable=False, unique=True),
    Column("account_id", String(32), nullable=False),
    #: The certificate that logged in (``account_certificates.subject_id``).
    Column("subject_id", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    #: ``logout``, ``idle``, ``expired``, ``ended_by_user``, ``certificate_revoked``.
    Column("ended_reason", String(32), nullable=True),
    #: Browser, as the person sees it in their session list (shortened User-Agent).
    Column("user_agent", String(120), nullable=False),
    #: The principal's account this session acts for as a proxy (代理人), if it does.
    Column("acting_for", String(32), nullable=True),
    #: The grant it acts under (``proxy_grants.grant_id``), checked on every request.
    Column("acting_grant", String(32), nullable=True),
    Index("ix_sessions_account_id", "account_id"),
    Index("ix_sessions_subject_id", "subject_id"),
)

login_requests = Table(
    "login_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    #: The challenge the card signs (random, base64url).
    Column("nonce", String(64), nullable=False, unique=True),
    #: What a person types instead of scanning the QR code.
    Column("short_code", String(16), nullable=False),
    #: SHA-256 of the secret the waiting browser holds (so only it collects the session).
    Column("browser_secret_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    #: ``pending``, ``answered`` (a card signed), ``collected`` (the browser has its session),
    #: ``failed``.
    Column("status", String(16), nullable=False),
    Column("account_id", String(32), nullable=True),
    Column("subject_id", String(64), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    #: The portal's origin the card signs with the nonce (``openmyna.card.login``).
    Column("origin", String(200), nullable=False, server_default=""),
    #: Where the browser goes once logged in (a path on this site, ``pages.safe_next``).
    Column("next_path", String(500), nullable=False, server_default="/"),
    #: Answers posted (each refused one counts; past the limit the request fails).
    Column("attempts", Integer, nullable=False, server_default="0"),
    #: Why a ``failed`` request failed (an error code: ``CERT_REVOKED``, …).
    Column("failure", String(40), nullable=True),
    Column("collected_at", DateTime(timezone=True), nullable=True),
    Index("ix_login_requests_short_code", "short_code"),
    Index("ix_login_requests_subject_id", "subject_id"),
)

#: Where the portal's followers of other logs are (``revocations``: the JPKI revocation log's
#: last row whose certificate's sessions were ended).
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

login_history = Table(
    "login_history",
    metadata,
    Column("entry_id", String(32), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    #: ``login``, ``logout``, ``session_ended``, ``login_refused``, ``certificate_linked``.
    Column("action", String(32), nullable=False),
    Column("session_id", String(32), nullable=True),
    Column("detail", String(200), nullable=False),
    Index("ix_login_history_account_id", "account_id"),
)

proxy_grants = Table(
    "proxy_grants",
    metadata,
    Column("grant_id", String(32), primary_key=True),
    #: 委任者: the account whose pages the proxy may use.
    Column("principal_id", String(32), nullable=False),
    #: 代理人: the account that redeemed the invitation (none before).
    Column("proxy_id", String(32), nullable=True),
    #: How the principal names the proxy, and how the proxy sees the principal (their words).
    Column("proxy_label", String(40), nullable=False),
    Column("principal_label", String(40), nullable=False),
    #: The scopes granted, space-separated (``portal.proxy.scopes.Scope``).
    Column("scopes", String(200), nullable=False),
    #: SHA-256 of the one-time invitation code (the code itself is shown once).
    Column("invitation_hash", String(64), nullable=False, unique=True),
    Column("invitation_expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("redeemed_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_proxy_grants_principal_id", "principal_id"),
    Index("ix_proxy_grants_proxy_id", "proxy_id"),
)

proxy_log = Table(
    "proxy_log",
    metadata,
    #: In the order written (the log reads newest first, whatever the clock says).
    Column(
        "seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("grant_id", String(32), nullable=False),
    Column("principal_id", String(32), nullable=False),
    Column("proxy_id", String(32), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    #: ``start``, ``stop``, ``request``, ``ended`` (the grant was revoked or expired).
    Column("action", String(16), nullable=False),
    #: ``allowed`` or ``refused``.
    Column("outcome", String(16), nullable=False),
    Column("method", String(8), nullable=False),
    #: The path asked for (no query string), shortened.
    Column("path", String(200), nullable=False),
    #: The scope the path belongs to (``""`` for none).
    Column("scope", String(16), nullable=False),
    Index("ix_proxy_log_principal_id", "principal_id"),
    Index("ix_proxy_log_proxy_id", "proxy_id"),
    sqlite_autoincrement=True,
)

PORTAL_STORE = register_kind(
    StoreKind(PORTAL_KIND, metadata, migrations="openmyna.portal:migrations")
)
