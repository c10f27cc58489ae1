"""The provider's errors: OAuth 2.0 / OIDC error responses, each with a stable code.

Every refusal of the protocol endpoints is an Authlib ``OAuth2Error`` (so the answer is the
standard ``{"error": …, "error_description": …}`` or the redirect carrying them), with one
more member, ``code``: openmyna's stable code for the refusal, since several refusals share
one OAuth ``error`` (a wrong redirect URI and a missing PKCE challenge are both
``invalid_request``). The pages' errors (the consent screen) are ``OpenMynaError`` as
everywhere in the portal.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6750.errors import InvalidTokenError

from openmyna.errors import Conflict, InvalidInput, NotFound


class _Coded:
    """Adds ``code`` to the error's JSON body (and to an error redirect's parameters)."""

    code = "OIDC_ERROR"

    def get_body(self) -> list[tuple[str, Any]]:
        """The error's fields, openmyna's ``code`` last."""
        body: list[tuple[str, Any]] = super().get_body()  # type: ignore[misc]
        return [*body, ("code", self.code)]


class RedirectUriMismatch(_Coded, InvalidRequestError):  # type: ignore[misc]
    """The redirect URI is not one registered for the client (matched exactly)."""

    code = "REDIRECT_URI_MISMATCH"


class UnknownClient(_Coded, InvalidRequestError):  # type: ignore[misc]
    """No such client (or it was removed)."""

    code = "CLIENT_UNKNOWN"


class PkceRequired(_Coded, InvalidRequestError):  # type: ignore[misc]
    """No ``code_challenge`` (PKCE S256 is required)."""

    code = "PKCE_REQUIRED"


class PkceMethodRefused(_Coded, InvalidRequestError):  # type: ignore[misc]
    """A ``code_challenge_method`` other than ``S256`` (``plain`` is refused)."""

    code = "PKCE_METHOD_REFUSED"


class ParameterMissing(_Coded, InvalidRequestError):  # type: ignore[misc]
    """``state`` or ``nonce`` missing (both are required)."""

    code = "PARAMETER_MISSING"


class NonceReplayed(_Coded, InvalidRequestError):  # type: ignore[misc]
    """The nonce was used before by the same client."""

    code = "NONCE_REPLAYED"


class AcrUnsupported(_Coded, InvalidRequestError):  # type: ignore[misc]
    """``acr_values`` names no level this provider can reach."""

    code = "ACR_UNSUPPORTED"


class ScopeNotAllowed(_Coded, InvalidScopeError):  # type: ignore[misc]
    """A scope the client was not registered for, or one the provider does not know."""

    code = "SCOPE_NOT_ALLOWED"


class ConsentDenied(_Coded, AccessDeniedError):  # type: ignore[misc]
    """The person declined on the consent screen."""

    code = "CONSENT_DENIED"


class CodeInvalid(_Coded, InvalidGrantError):  # type: ignore[misc]
    """The authorization code is unknown, used already, expired or another client's."""

    code = "CODE_INVALID"


class CodeUsed(CodeInvalid):
    """The authorization code was used already (the tokens it gave are revoked)."""

    code = "CODE_USED"


class CodeExpired(CodeInvalid):
    """The authorization code has expired."""

    code = "CODE_EXPIRED"


class CodeOtherClient(CodeInvalid):
    """The authorization code was issued to another client."""

    code = "CODE_OTHER_CLIENT"


class RefreshInvalid(_Coded, InvalidGrantError):  # type: ignore[misc]
    """The refresh token is unknown, rotated, revoked or expired."""

    code = "REFRESH_INVALID"


class CertificateRevoked(_Coded, InvalidGrantError):  # type: ignore[misc]
    """The card's user-authentication certificate behind the grant is no longer valid."""

    code = "CERTIFICATE_REVOKED"


class TokenInvalid(_Coded, InvalidTokenError):  # type: ignore[misc]
    """The access token is unknown, expired or revoked (or its card's certificate is)."""

    code = "TOKEN_INVALID"


class ClientExists(Conflict):
    """A client of that name is registered already."""

    code = "OIDC_CLIENT_EXISTS"


class ClientNotFound(NotFound):
    """No such client."""

    code = "OIDC_CLIENT_NOT_FOUND"


class ClientInvalid(InvalidInput):
    """A client registration that cannot be used (a redirect URI, a scope, its keys)."""

    code = "OIDC_CLIENT_INVALID"


class AuthorizationNotFound(NotFound):
    """No such authorization request (or it expired, or it is another person's)."""

    code = "OIDC_AUTHORIZATION_NOT_FOUND"


class SignatureRequired(Conflict):
    """The 4 items (or a document signature) need the signature step first."""

    code = "OIDC_SIGNATURE_REQUIRED"
