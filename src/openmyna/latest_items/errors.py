"""Errors of the latest-4-items service, with stable codes (problem+json on the API, an
error page or message on the portal's pages, exit codes in the CLI)."""

from __future__ import annotations

from typing import ClassVar

from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError


class BusinessUnauthorized(OpenMynaError):
    """The API was called without a registered business's API key (or with a wrong one)."""

    code = "BUSINESS_UNAUTHORIZED"
    http_status = 401
    http_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="latest-items"'}


class InvalidBusiness(InvalidInput):
    """A business registration that breaks the rules (name, webhook URL)."""

    code = "INVALID_BUSINESS"


class InvalidConsentRequest(InvalidInput):
    """A consent request that breaks the rules: no way to reach the person, both ways, a
    malformed serial or reference, or the 12-digit number where a serial belongs."""

    code = "INVALID_CONSENT_REQUEST"


class CertificateUnknown(NotFound):
    """The business named a certificate serial the issuer never issued."""

    code = "CERTIFICATE_UNKNOWN"


class ConsentRequestNotFound(NotFound):
    """No such consent request for this person (or business): another's is not theirs."""

    code = "CONSENT_REQUEST_NOT_FOUND"


class ConsentRequestClosed(Conflict):
    """The consent request was signed, declined or has expired."""

    code = "CONSENT_REQUEST_CLOSED"


class ConsentNotFound(NotFound):
    """No such consent for this person (or business)."""

    code = "CONSENT_NOT_FOUND"


class ConsentRevoked(OpenMynaError):
    """The person revoked the consent: nothing more is provided."""

    code = "CONSENT_REVOKED"
    http_status = 403


class SignerNotPerson(OpenMynaError):
    """The consent was signed with a card that is not the named person's (or the session's)."""

    code = "SIGNER_NOT_PERSON"
    http_status = 403
