"""The one HTTP boundary for errors: every app answers RFC 9457 problem+json.

``install(app)`` gives a FastAPI app the handlers, so that a domain error (``OpenMynaError``),
a request that fails validation, an unknown route (404) or method (405) and an unexpected
failure (500) all answer ``application/problem+json`` with a stable ``type`` and ``title``
(the error's code). ``response(error)`` is the same answer for code outside FastAPI's
handlers (a bare Starlette route, a middleware).

What a problem never carries: the input that failed validation (it may be a name or an
individual number, so only where it was wrong is said), a traceback, or a driver's message.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json."""

    @app.exception_handler(OpenMynaError)
    async def _domain(_request: Request, exc: OpenMynaError) -> JSONResponse:
        return response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return response(invalid_request(exc))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        headers: dict[str, Any] | None = getattr(exc, "headers", None)
        return response(_from_http(exc), status=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The type only: a message may quote personal data or SQL parameters.
        log.error("unexpected %s answering %s", type(exc).__name__, request.url.path)
        return response(InternalError("the server failed to answer; try again later"))
