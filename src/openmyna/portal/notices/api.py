"""The agency-facing notice API: agencies post notices over mutual TLS, as on the network.

The API listens on its own port (``openmyna portal notices-api``), as the portal's node
would: it presents the portal's node certificate (``myna-portal``) from the network CA and
requires the caller's node certificate from the same CA (TLS 1.2 at least, the CA's CRL), so
a client without a certificate, or with one of another CA, is refused in the handshake. The
caller's agency is the one its certificate names (``tls.scope_agency``, which also refuses a
revoked certificate), never a field of the request; it must be an agency of the network's
directory (the hub and the portal itself may not post).

``POST /v1/notices`` — a JSON object:

- ``code``: the person, by the calling agency's own agency-specific code (the portal
  translates it to its own code through the hub; the number is never sent);
- ``title`` (at most 100 characters, one line), ``body`` (at most 4,000), plain text;
- ``category``: one of ``notices.content.CATEGORIES``;
- ``link`` (optional): ``/applications/<id>`` or ``/payments/<id>`` on the portal;
- ``idempotency_key``: 8-64 of ``A-Z a-z 0-9 _ -``, unique per agency.

Answers ``201`` with ``{"notice_id", "posted_at", "created": true}``; a repeated post (the
same key and the same notice) ``200`` with the first post's id and ``"created": false``; the
key used for another notice ``409 IDEMPOTENCY_CONFLICT``; a code the hub does not know
``404 UNKNOWN_CODE``; a notice breaking the rules ``400`` (``INVALID_NOTICE``, or
``INVALID_INPUT`` for a malformed body: unknown fields are refused); a body over 64 KiB
``413 REQUEST_TOO_LARGE``. Errors are problem+json (RFC 9457) and never echo the input.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from openmyna import problems
from openmyna.config import HttpSettings
from openmyna.network import tls
from openmyna.network.messages import Code, IdempotencyKey
from openmyna.network.netca import NetworkCA, NodeIdentity
from openmyna.portal.accounts import PORTAL_AGENCY
from openmyna.portal.notices.content import BODY_MAX, TITLE_MAX
from openmyna.portal.notices.errors import RequestTooLarge
from openmyna.portal.notices.service import Notices

#: The largest request body the API reads (a notice of 4,000 characters escaped as JSON fits).
MAX_BODY_BYTES: Final = 64 * 1024
DEFAULT_PORT: Final = 8445


class NoticeIn(BaseModel):
    """A notice as an agency's system posts it."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    # The limits of ``NewNotice``, checked again there (with the text's own rules).
    title: str = Field(max_length=TITLE_MAX * 2)
    body: str = Field(max_length=BODY_MAX * 2)
    category: str = Field(max_length=16)
    link: str | None = Field(default=None, max_length=120)
    idempotency_key: IdempotencyKey


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 unread."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Read the whole body (at most ``limit``), then hand it to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = problems.response(RequestTooLarge("the request body is too large"))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await refused(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await refused(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        await self.app(scope, replay, send)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def create_notices_api(notices: Notices, ca: NetworkCA) -> FastAPI:
    """The API's ASGI app (the caller's agency from its client certificate)."""
    app = FastAPI(title="openmyna portal notice API", openapi_url=None)
    problems.install(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    ca_cert = ca.ca_certificate()

    @app.post("/v1/notices", status_code=201)
    def post_notice(request: Request, body: NoticeIn, response: Response) -> dict[str, Any]:
        """Post a notice to a person, named by the calling agency's own code."""
        agency = tls.scope_agency(request.scope, ca_cert, ca)
        posted = notices.post(
            agency,
            body.code,
            title=body.title,
            body=body.body,
            category=body.category,
            link=body.link,
            idempotency_key=body.idempotency_key,
        )
        if not posted.created:
            response.status_code = 200
        return {
            "notice_id": posted.notice_id,
            "posted_at": _iso(posted.posted_at),
            "created": posted.created,
        }

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, str]:
        """Liveness (to any node of the network)."""
        tls.scope_agency(request.scope, ca_cert, ca)
        return {"status": "ok", "role": "notices"}

    return app


def portal_identity(ca: NetworkCA) -> NodeIdentity:
    """The portal's node identity (its certificate for the API's listener)."""
    return ca.node(PORTAL_AGENCY)


def make_notices_server(
    notices: Notices,
    ca: NetworkCA,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "warning",
    limits: HttpSettings | None = None,
) -> uvicorn.Server:
    """The API's server over mutual TLS as the portal's node (not started)."""
    from openmyna.network.processes import make_server

    app = create_notices_api(notices, ca)
    return make_server(app, portal_identity(ca), ca, host, port, log_level=log_level, limits=limits)
