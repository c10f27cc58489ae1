"""Errors of the notices, with stable codes (problem+json on the API, an error page in pages)."""

from __future__ import annotations

from openmyna.errors import InvalidInput, NotFound, OpenMynaError
from openmyna.network.errors import PeerRefused


class NoticeNotFound(NotFound):
    """No notice with that id for this person (another person's notice is not theirs either)."""

    code = "NOTICE_NOT_FOUND"


class InvalidNotice(InvalidInput):
    """A notice that breaks the rules: a field missing, too long, with control characters, or
    a link that is not a path to an application or a payment on the portal."""

    code = "INVALID_NOTICE"


class NoticeSenderRefused(PeerRefused):
    """A caller that may not post notices: not an agency of the directory (the hub, a
    certificate naming no known agency) or the portal itself."""

    code = "NOTICE_SENDER_REFUSED"


class RequestTooLarge(OpenMynaError):
    """A request body larger than the notice API accepts."""

    code = "REQUEST_TOO_LARGE"
    http_status = 413


class UnknownDeliveryService(InvalidInput):
    """A delivery service (民間送達) that is not in the installation's list."""

    code = "UNKNOWN_DELIVERY_SERVICE"


class InvalidDeliveryServices(InvalidInput):
    """The installation's list of delivery services is malformed or unsafe."""

    code = "INVALID_DELIVERY_SERVICES"
