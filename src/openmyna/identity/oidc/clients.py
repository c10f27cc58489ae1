"""The relying parties (clients) an administrator registered, and how Authlib sees them.

A client is registered with its exact redirect URIs, the scopes it may ask for, a contact,
and how it authenticates at the token endpoint: ``private_key_jwt`` (RFC 7523, its public
keys given as a JWKS) or ``client_secret_basic`` (for the demo: the secret is shown once and
only its SHA-256 kept; it is 256 random bits, so a plain hash is enough). Its *sector* is the
one host its redirect URIs share (OpenID Connect Core 1.0 §8.1): the pairwise subject is
computed for the sector, so two clients of one business see one subject, and no two
businesses the same one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping

from openmyna.clock import Clock
from openmyna.identity.oidc.errors import ClientExists, ClientInvalid, ClientNotFound
from openmyna.identity.oidc.tables import clients
from openmyna.store import Store

#: The scopes of デジタル認証アプリ's API reference (民間事業者向け, 認可エンドポイント):
#: ``openid`` always; ``name``, ``address``, ``birthdate``, ``gender`` for the 4 items;
#: ``sign`` for a signature.
SCOPES = ("openid", "name", "address", "birthdate", "gender", "sign")
#: The scopes whose answer needs the signature certificate (the 4 items and ``sign``).
SIGNED_SCOPES = frozenset({"name", "address", "birthdate", "gender", "sign"})
AUTH_METHODS = ("private_key_jwt", "client_secret_basic")
GRANT_TYPES = ("authorization_code", "refresh_token")
MAX_REDIRECT_URIS = 10
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


def secret_hash(secret: str) -> str:
    """What the table keeps of a client secret."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_redirect_uri(uri: str) -> str:
    """A redirect URI as registered: absolute, https (http only to this machine), no fragment."""
    if len(uri) > 255 or any(ord(c) < 0x21 or ord(c) > 0x7E for c in uri):
        raise ClientInvalid("a redirect URI must be 1-255 printable ASCII characters")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri or not parts.hostname:
        raise ClientInvalid("a redirect URI is absolute and has no fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
        raise ClientInvalid("a redirect URI uses https (http only to this machine)")
    return uri


def checked_jwks(text: str) -> str:
    """A client's public JWKS as JSON (RSA or EC keys, no private part)."""
    try:
        data = json.loads(text)
        keys = KeySet.import_key_set(data)
    except (ValueError, TypeError, JoseError):
        raise ClientInvalid("the client's keys are not a JWKS") from None
    if not keys.keys or any(k.is_private for k in keys.keys):
        raise ClientInvalid("the client's JWKS must hold public keys only")
    return json.dumps(data, sort_keys=True)


@dataclass(frozen=True)
class Client:
    """A registered relying party, with the methods Authlib asks of a client."""

    client_id: str
    name: str
    contact: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    auth_method: str
    sector: str
    created_at: dt.datetime
    jwks: str | None = field(default=None, repr=False)
    secret_sha256: str | None = field(default=None, repr=False)

    # --- authlib.oauth2.rfc6749.ClientMixin -------------------------------------------------

    @property
    def token_endpoint_auth_method(self) -> str:
        """How the client authenticates at the token endpoint."""
        return self.auth_method

    def get_client_id(self) -> str:
        """The client's id."""
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        """None: every authorization request names its redirect URI."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope asked for if the client may ask for all of it, else None (refused)."""
        asked = (scope or "").split()
        if not asked or any(s not in self.scopes for s in asked):
            return None
        return " ".join(dict.fromkeys(asked))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Whether ``redirect_uri`` is exactly one of the registered ones."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Whether ``client_secret`` is the client's (compared in constant time)."""
        if self.secret_sha256 is None:
            return False
        return hmac.compare_digest(secret_hash(client_secret), self.secret_sha256)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Whether the client authenticates this way (the one method it registered)."""
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        """Only the authorization code flow."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """The code and the refresh-token grants."""
        return grant_type in GRANT_TYPES


def _client(row: RowMapping) -> Client:
    created = row["created_at"]
    return Client(
        client_id=row["client_id"],
        name=row["name"],
        contact=row["contact"],
        redirect_uris=tuple(json.loads(row["redirect_uris"])),
        scopes=tuple(json.loads(row["scopes"])),
        auth_method=row["auth_method"],
        sector=row["sector"],
        created_at=created if created.tzinfo else created.replace(tzinfo=dt.UTC),
        jwks=row["jwks"],
        secret_sha256=row["secret_sha256"],
    )


class Clients:
    """The client register: add, list, look up, remove."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def add(
        self,
        name: str,
        redirect_uris: list[str],
        *,
        scopes: list[str] | None = None,
        auth_method: str = "private_key_jwt",
        jwks: str | None = None,
        contact: str = "",
    ) -> tuple[Client, str | None]:
        """Register a client: it and, for ``client_secret_basic``, its secret (shown once)."""
        name = name.strip()
        if not _NAME.match(name):
            raise ClientInvalid("a client's name is 1-200 characters")
        if not _NAME.match(contact or "-"):
            raise ClientInvalid("a contact is at most 200 characters")
        uris = list(dict.fromkeys(checked_redirect_uri(u) for u in redirect_uris))
        if not uris or len(uris) > MAX_REDIRECT_URIS:
            raise ClientInvalid(f"a client has 1-{MAX_REDIRECT_URIS} redirect URIs")
        hosts = {urlsplit(u).hostname or "" for u in uris}
        if len(hosts) != 1:
            raise ClientInvalid("a client's redirect URIs share one host (its sector)")
        wanted = list(dict.fromkeys(scopes or ["openid"]))
        if "openid" not in wanted:
            wanted.insert(0, "openid")
        unknown = [s for s in wanted if s not in SCOPES]
        if unknown:
            raise ClientInvalid("unknown scope: " + " ".join(unknown)[:100])
        if auth_method not in AUTH_METHODS:
            raise ClientInvalid("client authentication is private_key_jwt or client_secret_basic")
        secret: str | None = None
        keys: str | None = None
        if auth_method == "private_key_jwt":
            if jwks is None:
                raise ClientInvalid("a private_key_jwt client needs its public keys (--jwks)")
            keys = checked_jwks(jwks)
        else:
            secret = secrets.token_urlsafe(32)
        client_id = "rp" + secrets.token_hex(12)
        with self.store.transaction() as s:
            taken = s.scalar(
                select(clients.c.client_id).where(
                    clients.c.name == name, clients.c.removed_at.is_(None)
                )
            )
            if taken is not None:
                raise ClientExists("a client of that name is registered already")
            s.execute(
                insert(clients).values(
                    client_id=client_id,
                    name=name,
                    contact=contact.strip(),
                    redirect_uris=json.dumps(uris),
                    scopes=json.dumps(wanted),
                    auth_method=auth_method,
                    secret_sha256=secret_hash(secret) if secret else None,
                    jwks=keys,
                    sector=hosts.pop(),
                    created_at=self.clock.now(),
                    removed_at=None,
                )
            )
        return self.get(client_id), secret

    def find(self, client_id: str) -> Client | None:
        """A registered client (not removed), or None."""
        if not isinstance(client_id, str) or len(client_id) > 40:
            return None
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(clients).where(
                        clients.c.client_id == client_id, clients.c.removed_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _client(row)

    def get(self, client_id: str) -> Client:
        """A registered client (``OIDC_CLIENT_NOT_FOUND`` otherwise)."""
        found = self.find(client_id)
        if found is None:
            raise ClientNotFound("no such client")
        return found

    def list(self) -> list[Client]:
        """The registered clients, oldest first."""
        with self.store.transaction() as s:
            rows = (
                s.execute(
                    select(clients)
                    .where(clients.c.removed_at.is_(None))
                    .order_by(clients.c.created_at, clients.c.client_id)
                )
                .mappings()
                .all()
            )
        return [_client(r) for r in rows]

    def remove(self, client_id: str) -> None:
        """Remove a client: its requests and tokens are refused from then on."""
        with self.store.transaction() as s:
            done = s.execute(
                update(clients)
                .where(clients.c.client_id == client_id[:40], clients.c.removed_at.is_(None))
                .values(removed_at=self.clock.now())
            )
        if not getattr(done, "rowcount", 0):
            raise ClientNotFound("no such client")

    def public_keys(self, client: Client) -> dict[str, Any]:
        """A ``private_key_jwt`` client's JWKS."""
        return dict(json.loads(client.jwks or '{"keys": []}'))
