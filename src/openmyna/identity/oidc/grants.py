"""Authlib's grants, endpoints and client authentication, told where the provider keeps things.

Nothing of the protocol is written here: Authlib's ``AuthorizationCodeGrant`` (RFC 6749
§4.1), ``CodeChallenge`` (RFC 7636, S256 only), ``OpenIDCode`` (OIDC Core §3.1, the ID
token), ``RefreshTokenGrant`` (RFC 6749 §6, rotating), ``RevocationEndpoint`` (RFC 7009)
and ``JWTBearerClientAssertion`` (RFC 7523 §2.2, as ``private_key_jwt``) do the work; these
subclasses only answer their questions (find a code, save a token, which key signs) from
``Provider`` (``provider.py``), which ``OidcServer.provider`` names.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants
from joserfc.jwk import KeySet

from openmyna.identity.oidc.clients import SCOPES, Client
from openmyna.identity.oidc.errors import ScopeNotAllowed

if TYPE_CHECKING:
    from openmyna.identity.oidc.provider import EndUser, IssuedCode, IssuedToken, Provider

AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]

# Authlib logs the tokens it issues at DEBUG ("Issue token %r to %r"): bearer secrets and the
# grant's claims must never reach a log, whatever the application's logging level.
logging.getLogger("authlib").setLevel(logging.INFO)


class OidcServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's authorization server on the provider's store (no web framework in it)."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider

    def query_client(self, client_id: str) -> Client | None:
        """The registered client, or None."""
        return self.provider.clients.find(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Keep the new tokens (only their hashes)."""
        self.provider.save_token(token, request)

    def validate_requested_scope(self, scope: str | None) -> None:
        """Only the scopes this provider knows (``SCOPE_NOT_ALLOWED``)."""
        if scope and any(s not in SCOPES for s in scope.split()):
            raise ScopeNotAllowed("a scope this provider does not know")

    def create_oauth2_request(self, request: Any) -> Any:
        """The adapter hands over Authlib's own request objects."""
        return request

    def create_json_request(self, request: Any) -> Any:
        """The adapter hands over Authlib's own request objects."""
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        """(status, body, headers): the adapter makes the HTTP response."""
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: the provider records what it needs itself."""


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with the S256 method only (``plain`` is refused), required of every client."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"


class OpenIDCode(oidc_grants.OpenIDCode):  # type: ignore[misc]
    """The ID token: signed with the provider's current key, the pairwise subject, the acr."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Whether the client used this nonce before (a replay)."""
        return self.provider.nonce_used(request.payload.client_id, nonce)

    def resolve_client_private_key(self, client: Client) -> Any:
        """The key that signs now."""
        return self.provider.keys.signing()[1]

    def get_client_algorithm(self, client: Client) -> str:
        """RS256, as the signing keys are RSA."""
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        """The JWS header names the key (``kid``), so a rotation does not break verifiers."""
        return {"alg": "RS256", "kid": self.provider.keys.signing()[0], "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        """``iss``, ``aud``, ``iat`` and ``exp`` on the provider's clock."""
        return self.provider.id_token_claims(client)

    def generate_user_info(self, user: EndUser, scope: str) -> dict[str, Any]:
        """The claims of the granted scopes, for the ID token."""
        return self.provider.user_claims(user, scope)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant, its codes in the provider's store."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    @property
    def provider(self) -> Provider:
        """The provider (``OidcServer.provider``)."""
        return self.server.provider  # type: ignore[no-any-return]

    def validate_authorization_request(self) -> str:
        """openmyna's checks first (each refusal with its code), then Authlib's."""
        self.provider.check_authorization_request(self.request)
        return super().validate_authorization_request()  # type: ignore[no-any-return]

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Keep the code's hash and what it grants."""
        self.provider.save_code(code, request)

    def query_authorization_code(self, code: str, client: Client) -> IssuedCode:
        """The unused, unexpired code of this client (each refusal with its code)."""
        return self.provider.find_code(code, client)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """A code is used once."""
        self.provider.use_code(authorization_code)

    def authenticate_user(self, authorization_code: IssuedCode) -> EndUser:
        """Whom the code names, if their card's certificate is still good."""
        return self.provider.end_user_of(authorization_code)


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens, rotated at every use (the old pair is revoked)."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    @property
    def provider(self) -> Provider:
        """The provider (``OidcServer.provider``)."""
        return self.server.provider  # type: ignore[no-any-return]

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken:
        """The live token pair of this refresh token (``REFRESH_INVALID`` otherwise)."""
        return self.provider.find_refresh(refresh_token)

    def authenticate_user(self, refresh_token: IssuedToken) -> EndUser:
        """Whom the token names, if their card's certificate is still good."""
        return self.provider.end_user_of(refresh_token)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        """Rotation: the old pair is revoked."""
        self.provider.revoke(refresh_token)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 revocation of an access or a refresh token (the pair goes together)."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        """The token pair of either token, or None (revoking an unknown token is no error)."""
        return self.server.provider.find_any_token(token_string)  # type: ignore[no-any-return]

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        """Revoke the pair."""
        self.server.provider.revoke(token)


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """``private_key_jwt`` (OIDC Core §9, RFC 7523): a JWT signed with the client's key."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: Provider) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.provider = provider

    def get_audiences(self) -> list[str]:
        """The provider's token endpoint and its issuer identifier."""
        return [self.provider.token_endpoint, self.provider.issuer]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Each assertion once (its jti remembered until it expires)."""
        return self.provider.assertion_first_use(str(claims.get("sub")), str(jti), claims)

    def resolve_client_public_key(self, client: Client) -> KeySet:
        """The client's registered public keys."""
        return KeySet.import_key_set(self.provider.clients.public_keys(client))  # type: ignore[arg-type]
