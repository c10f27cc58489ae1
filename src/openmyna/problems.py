"""The one HTTP boundary for errors: every app answers RFC 9457 problem+json.

``install(app)`` gives an app (FastAPI, or a bare Starlette one) the handlers, so that a
domain error (``OpenMynaError``), a request that fails validation, an unknown route (404) or
method (405) and an unexpected failure (500) all answer ``application/problem+json`` with a
stable ``type`` and ``title`` (the error's code). ``response(error)`` is the same answer for
code outside FastAPI's handlers (a bare Starlette route, a middleware).

An error may carry HTTP headers for its answer (``http_headers``: e.g. the
``WWW-Authenticate`` challenge of a 401, RFC 9110 §11.6.1).

What a problem never carries: the input that failed validation (it may be a name or an
individual number, so only where it was wrong is said), a traceback, or a driver's message.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from openmyna.errors import InvalidInput, NotFound, OpenMynaError

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"


class MethodNotAllowed(OpenMynaError):
    """The route exists, but not for this HTTP method."""

    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class InternalError(OpenMynaError):
    """An unexpected failure; the server's log has its type, never its message."""

    code = "INTERNAL_ERROR"
    http_status = 500


class RequestRefused(OpenMynaError):
    """A request the HTTP layer refused before any route saw it (its status says why)."""

    code = "REQUEST_REFUSED"


def response(
    error: OpenMynaError, *, status: int | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The problem+json answer for ``error`` (with its own HTTP status unless ``status``)."""
    body = error.problem()
    body["status"] = status or error.http_status
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def invalid_request(exc: RequestValidationError) -> InvalidInput:
    """The error for a request that fails validation: which fields, never their values."""
    fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
    return InvalidInput("the request is not valid", fields=", ".join(fields)[:200])


def _from_http(exc: HTTPException) -> OpenMynaError:
    if exc.status_code == 404:
        return NotFound("no such resource")
    if exc.status_code == 405:
        return MethodNotAllowed("this resource does not answer that method")
    return RequestRefused("the request was refused")


def install(app: Starlette) -> None:
    """Answer every error of ``app`` as problem+json."""

    async def _domain(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OpenMynaError)
        headers: dict[str, str] | None = getattr(exc, "http_headers", None)
        return response(exc, headers=headers)

    async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return response(invalid_request(exc))

    async def _http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        headers: dict[str, Any] | None = getattr(exc, "headers", None)
        return response(_from_http(exc), status=exc.status_code, headers=headers)

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The type only: a message may quote personal data or SQL parameters.
        log.error("unexpected %s answering %s", type(exc).__name__, request.url.path)
        return response(InternalError("the server failed to answer; try again later"))

    app.add_exception_handler(OpenMynaError, _domain)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
