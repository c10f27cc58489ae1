"""The OpenID Connect provider (デジタル認証アプリ's role) as one object, on its own store.

It answers Authlib's questions (``grants.py``) and keeps the state the protocol needs:

- an authorization request, once Authlib and openmyna's own checks accepted it, waits in
  ``authorizations`` for the person's answer on the consent screen (``web.py``): logged in
  with the card (the portal's login), they see what goes to whom, sign with the signature
  certificate if the 4 items or a signature are asked for, and approve or decline;
- the code (one use, ``CODE_TTL``), the token pair (``ACCESS_TTL``, refresh ``REFRESH_TTL``,
  rotated), the ID token (``ID_TOKEN_TTL``, signed by ``SigningKeys``);
- the subject is pairwise (OIDC Core §8.1): an HMAC of the client's sector and the portal
  account, which the portal keeps across card renewals (``portal.accounts``: a renewed
  certificate is linked to the account by ``Jpki.previous_auth_serials``); never the
  individual number nor a certificate serial;
- every use of a grant (code, refresh, userinfo) asks whether the card's user-authentication
  certificate it came from is still good (``CertificateStatus``): a revoked card's tokens
  stop working.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from authlib.oauth2.rfc6750 import BearerTokenGenerator
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping

from openmyna.clock import Clock
from openmyna.identity.oidc import errors
from openmyna.identity.oidc.clients import SIGNED_SCOPES, Client, Clients
from openmyna.identity.oidc.grants import (
    CodeGrant,
    OidcServer,
    OpenIDCode,
    PrivateKeyJwt,
    RefreshGrant,
    Revocation,
    S256Challenge,
)
from openmyna.identity.oidc.keys import SigningKeys
from openmyna.identity.oidc.tables import assertions, authorizations, codes, tokens
from openmyna.store import Store, StoreConflict

#: An authorization request waits this long for the person (login, consent, signature).
AUTHORIZATION_TTL = dt.timedelta(minutes=10)
#: RFC 6749 §4.1.2: a code expires shortly (10 minutes at most is recommended).
CODE_TTL = dt.timedelta(minutes=2)
ACCESS_TTL = dt.timedelta(minutes=15)
REFRESH_TTL = dt.timedelta(days=30)
ID_TOKEN_TTL = dt.timedelta(minutes=10)
#: A retired signing key stays published this long: every ID token it signed has expired.
KEY_KEEP = ID_TOKEN_TTL + dt.timedelta(minutes=5)

#: The assurance level a card login reaches (docs/identity.md, "Assurance levels"): the
#: user-authentication key on the card with its PIN (possession and knowledge, the key
#: never leaving the chip: AAL3), the certificate's status checked with the issuer
#: (``crl``: OCSP, or the CRL where OCSP does not answer) at the login and at each use.
ACR_CARD = "aal3 crl"
ACR_VALUES = (ACR_CARD,)
#: RFC 8176: a smart card (``sc``), its key a hardware key (``hwk``), unlocked by a PIN.
AMR = ["sc", "hwk", "pin"]

#: The 4 items' claims (OIDC Core §5.1 names) by scope.
ITEM_CLAIMS = {"name": "name", "address": "address", "birthdate": "birthdate", "gender": "gender"}

_ISSUER: contextvars.ContextVar[str] = contextvars.ContextVar("oidc_issuer")


def sha256(value: str) -> str:
    """What the tables keep of a code or a token."""
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class CertificateStatus(Protocol):
    """Whether a portal account's login certificate is still good (``status.CardStatus``)."""

    def good(self, subject_id: str) -> bool:
        """Whether the user-authentication certificate ``subject_id`` is neither revoked
        nor suspended."""
        ...


@dataclass(frozen=True)
class EndUser:
    """Whom a grant is for: the portal account, the login certificate, what the card gave."""

    account_id: str
    subject_id: str
    acr: str
    auth_time: int
    #: The 4 items read from the signature certificate, and a signature, if asked for.
    claims: dict[str, Any] = field(default_factory=dict, repr=False)

    def get_user_id(self) -> str:
        """The portal account (Authlib's user id)."""
        return self.account_id


@dataclass(frozen=True)
class IssuedCode:
    """An authorization code as stored (Authlib's ``AuthorizationCodeMixin``)."""

    code_sha256: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    user: EndUser

    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued to."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The granted scope."""
        return self.scope

    def get_nonce(self) -> str:
        """The client's nonce, for the ID token."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the person logged in with the card."""
        return self.user.auth_time

    def get_acr(self) -> str:
        """The assurance level reached."""
        return self.user.acr

    def get_amr(self) -> list[str]:
        """How the person authenticated."""
        return list(AMR)


@dataclass(frozen=True)
class IssuedToken:
    """A token pair as stored (Authlib's ``TokenMixin``)."""

    token_id: str
    client_id: str
    scope: str
    user: EndUser
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None
    revoked: bool

    def check_client(self, client: Client) -> bool:
        """Whether the pair was issued to ``client``."""
        return bool(client.client_id == self.client_id)

    def get_scope(self) -> str:
        """The granted scope."""
        return self.scope

    def get_expires_in(self) -> int:
        """The access token's life, in seconds."""
        return int(ACCESS_TTL.total_seconds())

    def is_revoked(self) -> bool:
        """Whether the pair was revoked (or rotated)."""
        return self.revoked


@dataclass(frozen=True)
class Authorization:
    """An authorization request waiting for the person's answer."""

    authorization_id: str
    client: Client
    params: dict[str, str]
    account_id: str | None
    status: str
    signed: dict[str, Any] | None
    expires_at: dt.datetime

    @property
    def scopes(self) -> list[str]:
        """The scopes asked for, in order."""
        return self.params.get("scope", "").split()

    @property
    def needs_signature(self) -> bool:
        """Whether the 4 items or a signature are asked for (the signature step first)."""
        return any(s in SIGNED_SCOPES for s in self.scopes)


def _user(row: RowMapping) -> EndUser:
    return EndUser(
        account_id=row["account_id"],
        subject_id=row["subject_id"],
        acr=row["acr"],
        auth_time=int(row["auth_time"]),
        claims=json.loads(row["claims"]),
    )


def _token(row: RowMapping, now: dt.datetime) -> IssuedToken:
    refresh = row["refresh_expires_at"]
    return IssuedToken(
        token_id=row["token_id"],
        client_id=row["client_id"],
        scope=row["scope"],
        user=_user(row),
        access_expires_at=_aware(row["access_expires_at"]),
        refresh_expires_at=_aware(refresh) if refresh is not None else None,
        revoked=row["revoked_at"] is not None,
    )


class Provider:
    """The provider: Authlib's server on the store, the consent's state, the subject."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        kek: bytes,
        subject_secret: bytes,
        status: CertificateStatus,
        public_origin: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.clients = Clients(store, clock)
        self.keys = SigningKeys(store, clock, kek, keep=KEY_KEEP)
        self.status = status
        self.public_origin = public_origin.rstrip("/") if public_origin else None
        self._subject_secret = subject_secret
        self.server = OidcServer(self)
        self.server.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: secrets.token_urlsafe(32),
                lambda **_: secrets.token_urlsafe(48),
                lambda client, grant_type: int(ACCESS_TTL.total_seconds()),
            ),
        )
        self.server.register_client_auth_method("private_key_jwt", PrivateKeyJwt(self))
        self.server.register_grant(CodeGrant, [S256Challenge(required=True), OpenIDCode(self)])
        self.server.register_grant(RefreshGrant)
        self.server.register_endpoint(Revocation)

    # --- where the provider is --------------------------------------------------------------

    def bind(self, origin: str) -> None:
        """Serve this request as the issuer at ``origin`` (unless a public origin is set)."""
        _ISSUER.set(self.public_origin or origin.rstrip("/"))

    @property
    def issuer(self) -> str:
        """The issuer identifier (the portal's origin)."""
        return self.public_origin or _ISSUER.get("http://127.0.0.1:8000")

    @property
    def token_endpoint(self) -> str:
        """The token endpoint's URL."""
        return self.issuer + "/oidc/token"

    def discovery(self) -> dict[str, Any]:
        """OpenID Connect Discovery 1.0 §3: the provider's metadata."""
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": base + "/oidc/authorize",
            "token_endpoint": base + "/oidc/token",
            "userinfo_endpoint": base + "/oidc/userinfo",
            "revocation_endpoint": base + "/oidc/revoke",
            "jwks_uri": base + "/oidc/jwks",
            "scopes_supported": list(self.server.scopes_supported),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "revocation_endpoint_auth_methods_supported": [
                "private_key_jwt",
                "client_secret_basic",
            ],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": list(ACR_VALUES),
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "at_hash",
                *ITEM_CLAIMS.values(),
            ],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "ui_locales_supported": ["ja", "en"],
        }

    # --- the subject ---------------------------------------------------------------------------

    def subject(self, client: Client | str, account_id: str) -> str:
        """The pairwise subject of a portal account for a client's sector."""
        sector = client.sector if isinstance(client, Client) else client
        mac = hmac.new(
            self._subject_secret, f"{sector}\x00{account_id}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def user_claims(self, user: EndUser, scope: str) -> dict[str, Any]:
        """The claims of the granted scope (the subject always)."""
        client = self.clients.get(_CLIENT.get())
        granted = scope.split()
        claims: dict[str, Any] = {"sub": self.subject(client, user.account_id)}
        for s, claim in ITEM_CLAIMS.items():
            if s in granted and claim in user.claims:
                claims[claim] = user.claims[claim]
        if "sign" in granted and "signature" in user.claims:
            claims["signature"] = user.claims["signature"]
        return claims

    def id_token_claims(self, client: Client) -> dict[str, Any]:
        """The ID token's ``iss``, ``aud``, ``iat`` and ``exp`` (the provider's clock)."""
        now = int(self.clock.now().timestamp())
        return {
            "iss": self.issuer,
            "aud": [client.client_id],
            "azp": client.client_id,
            "iat": now,
            "exp": now + int(ID_TOKEN_TTL.total_seconds()),
        }

    # --- the authorization request -------------------------------------------------------------

    def check_authorization_request(self, request: Any) -> None:
        """openmyna's rules on an authorization request, each refusal with its code.

        Before the redirect URI is known good the error is shown to the person (never sent
        to an unchecked URI); after, it goes back to the client with ``state``.
        """
        data: dict[str, str] = request.payload.data
        _CLIENT.set(str(data.get("client_id") or ""))
        client = self.clients.find(str(data.get("client_id") or ""))
        if client is None:
            raise errors.UnknownClient("no such client")
        redirect_uri = data.get("redirect_uri")
        if not redirect_uri or not client.check_redirect_uri(redirect_uri):
            raise errors.RedirectUriMismatch("the redirect URI is not registered for the client")
        state = data.get("state")
        where = {"redirect_uri": redirect_uri, "state": state}
        if not state or len(state) > 255:
            raise errors.ParameterMissing("state is required (1-255 characters)", **where)
        nonce = data.get("nonce")
        if not nonce or len(nonce) > 255:
            raise errors.ParameterMissing("nonce is required (1-255 characters)", **where)
        if not data.get("code_challenge"):
            raise errors.PkceRequired("PKCE is required: code_challenge with S256", **where)
        if data.get("code_challenge_method") != "S256":
            raise errors.PkceMethodRefused("the code_challenge_method must be S256", **where)
        asked = str(data.get("scope") or "").split()
        if "openid" not in asked or client.get_allowed_scope(" ".join(asked)) is None:
            raise errors.ScopeNotAllowed("a scope the client may not ask for", **where)
        acr_values = data.get("acr_values")
        if acr_values and ACR_CARD not in _acr_choices(acr_values):
            raise errors.AcrUnsupported("no acr value this provider reaches", **where)
        if self.nonce_used(client.client_id, nonce):
            raise errors.NonceReplayed("the nonce was used before", **where)

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a code was issued to the client with this nonce (a replay)."""
        with self.store.transaction() as s:
            found = s.scalar(
                select(codes.c.code_sha256).where(
                    codes.c.client_id == client_id, codes.c.nonce == nonce
                )
            )
        return found is not None

    def begin(self, params: dict[str, str]) -> Authorization:
        """Keep an accepted authorization request until the person answers it."""
        client = self.clients.get(params["client_id"])
        now = self.clock.now()
        authorization_id = secrets.token_hex(16)
        with self.store.transaction() as s:
            s.execute(
                insert(authorizations).values(
                    authorization_id=authorization_id,
                    client_id=client.client_id,
                    params=json.dumps(params, sort_keys=True),
                    account_id=None,
                    subject_id=None,
                    status="pending",
                    sign_token_sha256=None,
                    document=None,
                    signed=None,
                    created_at=now,
                    expires_at=now + AUTHORIZATION_TTL,
                )
            )
        return self.authorization(authorization_id, None)

    def _authorization_row(self, authorization_id: str) -> RowMapping:
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(authorizations).where(
                        authorizations.c.authorization_id == authorization_id[:32]
                    )
                )
                .mappings()
                .first()
            )
        if row is None or _aware(row["expires_at"]) <= self.clock.now():
            raise errors.AuthorizationNotFound("no such authorization request: start again")
        return row

    def authorization(
        self, authorization_id: str, account_id: str | None, subject_id: str | None = None
    ) -> Authorization:
        """An authorization request; the first person to open it logged in makes it theirs."""
        row = self._authorization_row(authorization_id)
        if account_id is not None and row["account_id"] is None:
            with self.store.transaction() as s:
                s.execute(
                    update(authorizations)
                    .where(
                        authorizations.c.authorization_id == row["authorization_id"],
                        authorizations.c.account_id.is_(None),
                    )
                    .values(account_id=account_id, subject_id=subject_id)
                )
            row = self._authorization_row(authorization_id)
        if account_id is not None and row["account_id"] != account_id:
            raise errors.AuthorizationNotFound("no such authorization request: start again")
        if row["status"] in ("done", "denied"):
            raise errors.AuthorizationNotFound("this authorization request was answered")
        client = self.clients.get(row["client_id"])
        return Authorization(
            authorization_id=row["authorization_id"],
            client=client,
            params=json.loads(row["params"]),
            account_id=row["account_id"],
            status=row["status"],
            signed=json.loads(row["signed"]) if row["signed"] else None,
            expires_at=_aware(row["expires_at"]),
        )

    def finish(self, authorization_id: str, status: str) -> None:
        """The person answered: the request is closed (and what the card gave dropped)."""
        with self.store.transaction() as s:
            s.execute(
                update(authorizations)
                .where(authorizations.c.authorization_id == authorization_id)
                .values(status=status, signed=None, document=None)
            )

    # --- codes ---------------------------------------------------------------------------------

    def save_code(self, code: str, request: Any) -> None:
        """Keep the new code's hash with what it grants."""
        user: EndUser = request.user
        data = request.payload.data
        now = self.clock.now()
        try:
            with self.store.transaction() as s:
                s.execute(
                    insert(codes).values(
                        code_sha256=sha256(code),
                        client_id=request.client.client_id,
                        redirect_uri=data["redirect_uri"],
                        scope=request.scope,
                        account_id=user.account_id,
                        subject_id=user.subject_id,
                        nonce=data["nonce"],
                        code_challenge=data["code_challenge"],
                        code_challenge_method=data["code_challenge_method"],
                        acr=user.acr,
                        auth_time=user.auth_time,
                        claims=json.dumps(user.claims),
                        created_at=now,
                        expires_at=now + CODE_TTL,
                        used_at=None,
                    )
                )
        except StoreConflict:
            raise errors.NonceReplayed(
                "the nonce was used before",
                redirect_uri=data["redirect_uri"],
                state=data.get("state"),
            ) from None

    def find_code(self, code: str, client: Client) -> IssuedCode:
        """A code the client may redeem now (each refusal with its code)."""
        _CLIENT.set(client.client_id)
        with self.store.transaction() as s:
            row = (
                s.execute(select(codes).where(codes.c.code_sha256 == sha256(code[:200])))
                .mappings()
                .first()
            )
        if row is None:
            raise errors.CodeInvalid("no such authorization code")
        if row["client_id"] != client.client_id:
            raise errors.CodeOtherClient("the code was issued to another client")
        if row["used_at"] is not None:
            self._revoke_from_code(row)
            raise errors.CodeUsed("the code was used already")
        if _aware(row["expires_at"]) <= self.clock.now():
            raise errors.CodeExpired("the code has expired")
        return IssuedCode(
            code_sha256=row["code_sha256"],
            client_id=row["client_id"],
            redirect_uri=row["redirect_uri"],
            scope=row["scope"],
            nonce=row["nonce"],
            code_challenge=row["code_challenge"],
            code_challenge_method=row["code_challenge_method"],
            user=_user(row),
        )

    def _revoke_from_code(self, row: RowMapping) -> None:
        # RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens it gave.
        with self.store.transaction() as s:
            s.execute(
                update(tokens)
                .where(
                    tokens.c.client_id == row["client_id"],
                    tokens.c.account_id == row["account_id"],
                    tokens.c.issued_at >= row["created_at"],
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=self.clock.now())
            )

    def use_code(self, code: IssuedCode) -> None:
        """Mark the code used (once: a second redemption racing this one is refused)."""
        with self.store.transaction() as s:
            done = s.execute(
                update(codes)
                .where(codes.c.code_sha256 == code.code_sha256, codes.c.used_at.is_(None))
                .values(used_at=self.clock.now(), claims="{}")
            )
        if not getattr(done, "rowcount", 0):
            raise errors.CodeUsed("the code was used already")

    def end_user_of(self, grant: IssuedCode | IssuedToken) -> EndUser:
        """Whom a code or a token is for, if their card's certificate is still good."""
        if not self.status.good(grant.user.subject_id):
            raise errors.CertificateRevoked("the card's certificate is no longer valid")
        return grant.user

    # --- tokens --------------------------------------------------------------------------------

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Keep a new token pair's hashes, and whom and what it is for."""
        user: EndUser = request.user
        now = self.clock.now()
        refresh = token.get("refresh_token")
        with self.store.transaction() as s:
            s.execute(
                insert(tokens).values(
                    token_id=secrets.token_hex(16),
                    access_sha256=sha256(token["access_token"]),
                    refresh_sha256=sha256(refresh) if refresh else None,
                    client_id=request.client.client_id,
                    account_id=user.account_id,
                    subject_id=user.subject_id,
                    scope=token.get("scope") or "",
                    acr=user.acr,
                    auth_time=user.auth_time,
                    claims=json.dumps(user.claims),
                    issued_at=now,
                    access_expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
                    refresh_expires_at=now + REFRESH_TTL if refresh else None,
                    revoked_at=None,
                )
            )

    def _token_row(self, column: Any, value: str) -> RowMapping | None:
        with self.store.transaction() as s:
            return s.execute(select(tokens).where(column == sha256(value[:200]))).mappings().first()

    def find_refresh(self, refresh_token: str) -> IssuedToken:
        """The live pair of a refresh token (``REFRESH_INVALID`` otherwise)."""
        row = self._token_row(tokens.c.refresh_sha256, refresh_token)
        now = self.clock.now()
        if row is None:
            raise errors.RefreshInvalid("no such refresh token")
        _CLIENT.set(row["client_id"])
        found = _token(row, now)
        if found.revoked:
            raise errors.RefreshInvalid("the refresh token was rotated or revoked")
        if found.refresh_expires_at is None or found.refresh_expires_at <= now:
            raise errors.RefreshInvalid("the refresh token has expired")
        return found

    def find_any_token(self, value: str) -> IssuedToken | None:
        """The pair of an access or a refresh token, or None."""
        row = self._token_row(tokens.c.access_sha256, value) or self._token_row(
            tokens.c.refresh_sha256, value
        )
        return None if row is None else _token(row, self.clock.now())

    def revoke(self, token: IssuedToken) -> None:
        """Revoke a pair (both its tokens)."""
        with self.store.transaction() as s:
            s.execute(
                update(tokens)
                .where(tokens.c.token_id == token.token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.now(), claims="{}")
            )

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """OIDC Core §5.3: the claims of a live access token (``TOKEN_INVALID`` otherwise)."""
        row = self._token_row(tokens.c.access_sha256, access_token)
        now = self.clock.now()
        if row is None:
            raise errors.TokenInvalid("no such access token")
        found = _token(row, now)
        if found.revoked or found.access_expires_at <= now:
            raise errors.TokenInvalid("the access token has expired or was revoked")
        if self.clients.find(found.client_id) is None:
            raise errors.TokenInvalid("the client was removed")
        if not self.status.good(found.user.subject_id):
            raise errors.TokenInvalid("the card's certificate is no longer valid")
        _CLIENT.set(found.client_id)
        return self.user_claims(found.user, found.scope)

    # --- private_key_jwt -----------------------------------------------------------------------

    def assertion_first_use(self, client_id: str, jti: str, claims: dict[str, Any]) -> bool:
        """Whether a client assertion's jti is new (it is then remembered until it expires)."""
        now = self.clock.now()
        try:
            expires = dt.datetime.fromtimestamp(int(claims.get("exp", 0)), dt.UTC)
        except (TypeError, ValueError, OverflowError):
            return False
        key = sha256(f"{client_id}\x00{jti}")
        try:
            with self.store.transaction() as s:
                s.execute(delete(assertions).where(assertions.c.expires_at < now))
                s.execute(insert(assertions).values(jti_sha256=key, expires_at=expires))
        except StoreConflict:
            return False
        return True


#: The client the current request is about (the ID token's and userinfo's subject sector).
_CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("oidc_client")


def _acr_choices(acr_values: str) -> list[str]:
    """``acr_values`` (OIDC Core §3.1.2.1) as the levels asked for.

    The values are space-separated, and openmyna's level itself holds a space (``aal3
    crl``, as デジタル認証アプリ writes it), so the whole string is one choice when it is
    exactly a level this provider knows, else each word is.
    """
    text = " ".join(acr_values.split())
    return [text] if text in ACR_VALUES else text.split()
