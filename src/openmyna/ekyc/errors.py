"""Errors of the eKYC platform operator, each with a stable code (no personal data in them).

A refused customer signature keeps the JPKI verifier's own code (``openmyna.pki.errors``:
``CERT_FORGED``, ``CERT_REVOKED``, ``WRONG_CA``, …); these are the platform's own refusals.
"""

from __future__ import annotations

from typing import ClassVar

from openmyna.errors import InvalidInput, NotFound, OpenMynaError


class BusinessNotFound(NotFound):
    """No business of that id is registered with the platform operator."""

    code = "EKYC_BUSINESS_NOT_FOUND"


class ApiKeyNotFound(NotFound):
    """No API key of that id."""

    code = "EKYC_API_KEY_NOT_FOUND"


class BadApiKey(OpenMynaError):
    """The request carries no API key, or one that is unknown, malformed or revoked."""

    code = "EKYC_BAD_API_KEY"
    http_status = 401
    http_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="ekyc"'}


class BusinessSuspended(OpenMynaError):
    """The business's contract with the platform operator is suspended: no query is answered."""

    code = "EKYC_BUSINESS_SUSPENDED"
    http_status = 403


class BadRequestData(InvalidInput):
    """The posted signature, data or certificate is not what the API takes (size, encoding)."""

    code = "EKYC_BAD_INPUT"
