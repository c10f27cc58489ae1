"""HTTP routes of the JPKI issuer: the OCSP responder and the CRLs (mounted at the app's root).

- ``POST /ocsp`` — body ``application/ocsp-request`` (RFC 6960 A.1)
- ``GET /ocsp/{base64 request}`` — the same request, base64 (and URL-encoded) in the path
- ``GET /crl/auth``, ``GET /crl/sign`` — the newest CRL of each CA, DER, ``application/pkix-crl``

OCSP errors are OCSP responses (``malformedRequest``, ``unauthorized``, ``tryLater``,
``internalError``) with HTTP 200, as RFC 6960 wants; the routes never answer 500. A cached
response is sent from the event loop without touching the database or signing; only a miss
goes to a worker thread. ``/ocsp`` is a bare ASGI endpoint (``OcspEndpoint``).
"""

from __future__ import annotations

import base64
import binascii
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from openmyna import problems
from openmyna.errors import NotFound, OpenMynaError
from openmyna.pki.jpki import Jpki
from openmyna.pki.ocsp import INTERNAL_ERROR, MALFORMED_REQUEST, MAX_REQUEST_BYTES
from openmyna.pki.profiles import CertKind

log = logging.getLogger(__name__)

OCSP_RESPONSE = "application/ocsp-response"
PKIX_CRL = "application/pkix-crl"


class OcspEndpoint:
    """The JPKI OCSP responder (RFC 6960): POST ``/ocsp``, or GET ``/ocsp/{base64 request}``.

    A bare ASGI endpoint rather than a FastAPI route: the responder answers from a cache in
    microseconds, and FastAPI's per-request machinery (dependency solving, validation) would
    cost ten times that. The one app still routes to it like any other route.
    """

    def __init__(self, jpki: Jpki) -> None:
        self._responder = jpki.ocsp

    def _poll(self) -> None:
        try:
            self._responder.poll()
        except Exception:  # noqa: BLE001 - answer from the cache; the next poll retries
            log.warning("OCSP change poll failed; answering from the cache")

    async def answer(self, request_der: bytes) -> bytes:
        """The DER response to a DER request; signing (rarely) happens in a worker thread."""
        responder = self._responder
        try:
            if responder.poll_due():
                await run_in_threadpool(self._poll)
            found = responder.cached(request_der)
            if found is None:
                found = await run_in_threadpool(responder.respond, request_der)
            return found
        except Exception as exc:  # noqa: BLE001 - an OCSP client gets an OCSP error, not a 500
            log.error("OCSP answer failed: %s", type(exc).__name__)
            return INTERNAL_ERROR

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        headers: list[tuple[bytes, bytes]] = [(b"content-type", OCSP_RESPONSE.encode())]
        if scope["method"] == "POST":
            body = await self._read_body(receive)
            found = MALFORMED_REQUEST if body is None else await self.answer(body)
        else:
            found = await self._from_path(scope.get("path_params", {}).get("encoded", ""))
            headers.append((b"cache-control", b"max-age=60, public, no-transform, must-revalidate"))
        headers.append((b"content-length", str(len(found)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": found})

    async def _read_body(self, receive: Receive) -> bytes | None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            body.extend(message.get("body", b""))
            if len(body) > MAX_REQUEST_BYTES:
                return None
            if not message.get("more_body", False):
                return bytes(body)

    async def _from_path(self, encoded: str) -> bytes:
        if not encoded or len(encoded) > 2 * MAX_REQUEST_BYTES:
            return MALFORMED_REQUEST
        try:
            der = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return MALFORMED_REQUEST
        return await self.answer(der)


def routes(jpki: Jpki) -> list[BaseRoute]:
    """The ``/ocsp`` and ``/crl`` routes over ``jpki`` (plain Starlette routes)."""
    endpoint = OcspEndpoint(jpki)

    def crl(request: Request) -> Response:
        """The newest CRL of the auth or sign CA, DER (run in a worker thread)."""
        name = str(request.path_params["kind"]).removesuffix(".crl")
        if name not in {k.value for k in CertKind}:
            return problems.response(NotFound("no such CRL; use /crl/auth or /crl/sign"))
        try:
            published = jpki.published_crl(CertKind(name))
        except OpenMynaError as exc:
            log.warning("CRL not available: %s", exc.code)
            return problems.response(exc)
        age = int((published.next_update - jpki.clock.now()).total_seconds())
        headers = {"Cache-Control": f"max-age={max(0, min(age, 3600))}, public"}
        return Response(published.der, media_type=PKIX_CRL, headers=headers)

    return [
        Route("/ocsp", endpoint, methods=["GET", "POST"], include_in_schema=False),
        Route("/ocsp/{encoded:path}", endpoint, methods=["GET"], include_in_schema=False),
        Route("/crl/{kind}", crl, methods=["GET"], include_in_schema=False),
    ]
