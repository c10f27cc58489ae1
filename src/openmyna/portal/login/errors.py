"""Errors of the card login, with stable codes (problem+json on the card-facing API).

The verifier's own codes (``openmyna.pki``: ``BAD_CHALLENGE_SIGNATURE``, ``CERT_REVOKED``,
``CERT_SUSPENDED``, ``STATUS_UNKNOWN``, ``CERT_EXPIRED``, …) reach the holder's app as they
are; these are the login request's.
"""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError


class LoginRequestNotFound(NotFound):
    """No login request with that id (or short code), or not one this browser made."""

    code = "LOGIN_REQUEST_NOT_FOUND"


class LoginRequestExpired(OpenMynaError):
    """The login request's time (``login_request_ttl``) is over: show a new code."""

    code = "LOGIN_REQUEST_EXPIRED"
    http_status = 410


class LoginRequestAnswered(Conflict):
    """The login request was answered already (a replayed or second answer)."""

    code = "LOGIN_REQUEST_ANSWERED"


class LoginRequestFailed(Conflict):
    """The login request was closed after a refusal (too many answers, a revoked card)."""

    code = "LOGIN_REQUEST_FAILED"


class LoginAnswerMalformed(InvalidInput):
    """The card's answer is not a certificate and a signature in base64 of sensible size."""

    code = "LOGIN_ANSWER_MALFORMED"


class NotThisBrowser(OpenMynaError):
    """The session of a login request is collected only by the browser that made it."""

    code = "LOGIN_NOT_THIS_BROWSER"
    http_status = 403


class LoginRateLimited(OpenMynaError):
    """Too many login requests or answers from one place, or to one request: wait."""

    code = "LOGIN_RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, **context: object) -> None:
        super().__init__(message, **context)
        self.retry_after = max(1, retry_after)
        #: ``Retry-After`` (RFC 9110 §10.2.3), for the problem+json answer.
        self.http_headers = {"Retry-After": str(self.retry_after)}


class DemoCardNotFound(NotFound):
    """No demo card by that name in ``$OPENMYNA_DATA_DIR/demo-cards/``."""

    code = "DEMO_CARD_NOT_FOUND"
