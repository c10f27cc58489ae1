"""Errors of 代理人 (proxies), with stable codes."""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError
from openmyna.portal.sessions import PortalSession


class ProxyOutOfScope(OpenMynaError):
    """A proxy asked for a page the grant does not open (or no grant opens)."""

    code = "PROXY_OUT_OF_SCOPE"
    http_status = 403
    #: The page that explains it, with a way back to acting as oneself.
    template = "proxy/refused.html"

    def __init__(self, message: str, *, session: PortalSession, **context: object) -> None:
        super().__init__(message, **context)
        #: The acting session the refused request came with (the page's banner and forms).
        self.session = session


class ProxyGrantEnded(ProxyOutOfScope):
    """The grant a session acted under was revoked or expired: it acts as its own person again."""

    code = "PROXY_GRANT_ENDED"


class ProxyNotAllowed(OpenMynaError):
    """A proxy setting asked for while acting for someone (a proxy never delegates further)."""

    code = "PROXY_NOT_ALLOWED"
    http_status = 403


class GrantNotFound(NotFound):
    """No grant with that id for this person (another person's grant is not found either)."""

    code = "PROXY_GRANT_NOT_FOUND"


class InvitationInvalid(Conflict):
    """An invitation code that is unknown, used already, expired, revoked, or one's own."""

    code = "PROXY_INVITATION_INVALID"


class GrantInvalid(InvalidInput):
    """A grant's form with no scope, an unknown scope, a bad label or expiry date."""

    code = "PROXY_GRANT_INVALID"
