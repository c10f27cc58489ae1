"""Errors of the portal, with stable codes (problem+json on the API, an error page in a browser)."""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError


class LoginRequired(OpenMynaError):
    """The page needs a logged-in person: no session, or one that ended."""

    code = "LOGIN_REQUIRED"
    http_status = 401


class SessionEnded(LoginRequired):
    """The session ended (logout, idle, its absolute limit, a revoked certificate)."""

    code = "SESSION_ENDED"


class CsrfRefused(OpenMynaError):
    """A state-changing request without the page's CSRF token, or from another origin."""

    code = "CSRF_REFUSED"
    http_status = 403


class AccountNotFound(NotFound):
    """No portal account with that id."""

    code = "PORTAL_ACCOUNT_NOT_FOUND"


class CertificateNotLinkable(Conflict):
    """A verified certificate the issuer cannot tie to a current resident."""

    code = "PORTAL_CERT_NOT_LINKABLE"


class UnknownLanguage(InvalidInput):
    """A language the portal has no catalogue for."""

    code = "UNKNOWN_LANGUAGE"
