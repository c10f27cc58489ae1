"""The login's routes: the login page and its polling, the card-facing endpoint, the wallet.

Pages (``PageRoute``: HTML errors, the pages' security headers):

- ``GET /login?next=PATH`` starts a login request for this browser (a secret cookie
  ``omyna_login_<id>``, path ``/login``) and goes to its waiting page;
- ``GET /login/wait/{id}``: the QR code, the short code and the URL as text; once the card
  has answered, this browser's session (cookie ``omyna_session``) and on to ``next``;
- ``GET /login/wait/{id}/status``: what the page polls (htmx, every 2 s): 204 while waiting,
  ``HX-Redirect`` once logged in, 286 (htmx: stop polling) with the reason when it is over;
- ``GET /wallet``, ``POST /wallet``: the demo wallet (404 unless the demo runs), then
  ``GET /login/answered/{id}``: this browser's login goes on, another device is told so.

The card-facing API (problem+json errors):

- ``GET /login/r/{id}`` (``Accept: application/json``): the challenge; a browser (a phone's
  camera app opening the QR code) gets a page saying how to answer it instead;
- ``POST /login/r/{id}``: the card's answer ``{"certificate", "signature"}`` (base64);
- ``GET /login/code/{short_code}``: the challenge of the open request with that short code.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from openmyna.card.login import CODE_PATH, LOGIN_CONTEXT, REQUEST_PATH
from openmyna.errors import NotFound, OpenMynaError
from openmyna.portal.errors import CsrfRefused
from openmyna.portal.login.errors import (
    LoginAnswerMalformed,
    LoginRateLimited,
    LoginRequestExpired,
    LoginRequestFailed,
    LoginRequestNotFound,
    NotThisBrowser,
)
from openmyna.portal.login.service import Collected, LoginRequest, Logins, RequestStatus
from openmyna.portal.login.wallet import DemoWallet
from openmyna.portal.pages import (
    SECURITY_HEADERS,
    Page,
    PageDep,
    PageRoute,
    cookie_secure,
    error_page,
    page,
    portal_of,
    safe_next,
    same_origin,
)
from openmyna.portal.service import Portal
from openmyna.portal.sessions import COOKIE, EndReason

#: The browser's secret of one login request: ``omyna_login_<request id>``.
REQUEST_COOKIE = "omyna_login_"
#: The demo wallet's form token (double submit: the cookie and the form field must match).
WALLET_COOKIE = "omyna_wallet"
#: The card's answer: a certificate and a signature in base64 fit in far less.
MAX_ANSWER_BYTES = 16_384
POLL_EVERY = "2s"


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _logins(request: Request) -> Logins:
    return portal_of(request).logins


def _user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:120]


def qr_svg(text: str) -> str:
    """``text`` as a QR code (error correction M), inline SVG sized by the stylesheet."""
    return str(
        segno.make(text, error="m").svg_inline(
            scale=1, border=4, omitsize=True, svgclass="qr-code", lineclass=None, light="#fff"
        )
    )


def challenge_body(request: LoginRequest) -> dict[str, str]:
    """What the holder's app gets for a request (``openmyna.card.login.fetch_challenge``)."""
    return {
        "format": LOGIN_CONTEXT,
        "request_id": request.request_id,
        "nonce": request.nonce,
        "short_code": request.display_code,
        "expires_at": request.expires_at.isoformat(),
    }


def _target(next_path: str | None) -> str:
    target = safe_next(next_path)
    return "/" if target.startswith("/login") else target


def _set_cookie(page: Page, response: Response, name: str, value: str, **options: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(page.request, page.portal),
        **options,
    )


def _limited(page: Page, error: LoginRateLimited) -> Response:
    response = page.render("login/limited.html", status=429, error=error)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def _logged_in(page: Page, collected: Collected, *, htmx: bool) -> Response:
    """The answer once the session is collected: the cookie, and on to the page asked for."""
    if htmx:
        response: Response = Response(status_code=200, headers={"HX-Redirect": collected.next_path})
    else:
        response = page.redirect(collected.next_path)
    if collected.token is not None:
        if page.session is not None:  # a session this browser had: replaced, not kept
            page.portal.sessions.end(page.session.session_id, EndReason.LOGOUT)
        _set_cookie(page, response, COOKIE, collected.token)
    # The request's cookie stays until it expires: a late second poll finds the request
    # collected and goes on without a second session.
    return response


def _state(error: OpenMynaError) -> tuple[str, str]:
    """What the waiting page says when a request is over: its state and the refusal's code."""
    if isinstance(error, LoginRequestExpired):
        return "expired", error.code
    reason = str(error.context.get("reason") or error.code)
    return "failed", reason


def page_routes() -> list[BaseRoute]:
    """The login's pages."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/login", response_class=HTMLResponse, tags=["portal"])
    def login(page: PageDep, next: str | None = None) -> Response:
        """Log in with the My Number Card: a QR code and a short code for the card."""
        target = _target(next)
        if page.session is not None:
            return page.redirect(target)
        try:
            started = page.portal.logins.start(
                origin=_origin(page.request), next_path=target, client=_client(page.request)
            )
        except LoginRateLimited as exc:
            return _limited(page, exc)
        request = started.request
        response = page.redirect(f"/login/wait/{request.request_id}")
        ttl = page.portal.settings.login_request_ttl
        _set_cookie(
            page,
            response,
            REQUEST_COOKIE + request.request_id,
            started.browser_secret,
            max_age=int(ttl.total_seconds()) + 300,
            path="/login",
        )
        return response

    @router.get("/login/wait/{request_id}", response_class=HTMLResponse, include_in_schema=False)
    def wait(page: PageDep, request_id: str) -> Response:
        """The waiting page of one login request (this browser's only)."""
        logins = page.portal.logins
        secret = page.request.cookies.get(REQUEST_COOKIE + request_id)
        try:
            request = logins.get(request_id)
            collected = logins.collect(request_id, secret, user_agent=_user_agent(page.request))
        except (LoginRequestNotFound, NotThisBrowser):
            return page.redirect("/login")
        except (LoginRequestExpired, LoginRequestFailed) as exc:
            state, reason = _state(exc)
            return page.render("login/wait.html", request=request, state=state, reason=reason)
        if collected is not None:
            return _logged_in(page, collected, htmx=False)
        return page.render(
            "login/wait.html",
            request=request,
            state="pending",
            reason="",
            qr=qr_svg(request.url),
            wallet=page.portal.wallet is not None,
            poll_every=POLL_EVERY,
        )

    @router.get("/login/wait/{request_id}/status", include_in_schema=False)
    def status(page: PageDep, request_id: str) -> Response:
        """Polled by the waiting page: 204 while waiting, ``HX-Redirect`` once logged in."""
        logins = page.portal.logins
        secret = page.request.cookies.get(REQUEST_COOKIE + request_id)
        try:
            collected = logins.collect(request_id, secret, user_agent=_user_agent(page.request))
        except (LoginRequestNotFound, NotThisBrowser):
            return Response(status_code=200, headers={"HX-Redirect": "/login"})
        except (LoginRequestExpired, LoginRequestFailed) as exc:
            state, reason = _state(exc)
            return page.render("login/_status.html", status=286, state=state, reason=reason)
        if collected is None:
            return Response(status_code=204)
        return _logged_in(page, collected, htmx=True)

    @router.get("/wallet", response_class=HTMLResponse, tags=["portal"])
    def wallet(page: PageDep, request: str | None = None) -> Response:
        """The demo wallet: pick a demo card and type its PIN (only while the demo runs)."""
        demo = _wallet(page.portal)
        code = ""
        if request:
            try:
                code = page.portal.logins.challenge(request).display_code
            except OpenMynaError:
                code = ""
        return _wallet_page(page, demo, code=code)

    @router.post("/wallet", response_class=HTMLResponse, include_in_schema=False)
    def wallet_answer(
        page: PageDep,
        code: Annotated[str, Form(max_length=32)] = "",
        card: Annotated[str, Form(max_length=64)] = "",
        pin: Annotated[str, Form(max_length=16)] = "",
        csrf_token: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        """The demo wallet answers a login request with the chosen card."""
        demo = _wallet(page.portal)
        same_origin(page.request)
        expected = page.request.cookies.get(WALLET_COOKIE, "")
        if not expected or not secrets.compare_digest(
            expected.encode("utf-8", "replace"), csrf_token.encode("utf-8", "replace")
        ):
            raise CsrfRefused("the form is out of date or came from another site")
        logins = page.portal.logins
        client = _client(page.request)
        try:
            request = logins.by_short_code(code, client=client)
            answer = demo.sign(card, request, pin)
            logins.answer(request.request_id, answer.certificate, answer.signature, client=client)
        except LoginRateLimited as exc:
            return _limited(page, exc)
        except OpenMynaError as exc:  # the card's (PIN_WRONG, …) and the login's
            return _wallet_page(page, demo, code=code, chosen=card, error=exc, status=400)
        # The request's cookie is sent to /login only: the next page tells whose it is.
        return page.redirect(f"/login/answered/{request.request_id}")

    @router.get("/login/answered/{request_id}", include_in_schema=False)
    def answered(page: PageDep, request_id: str) -> Response:
        """After the wallet answered: this browser's login goes on, another's is told."""
        logins = page.portal.logins
        try:
            request = logins.get(request_id)
        except LoginRequestNotFound:
            return page.redirect("/login")
        if logins.owns(request, page.request.cookies.get(REQUEST_COOKIE + request_id)):
            return page.redirect(f"/login/wait/{request_id}")  # collected right there
        return page.render("login/wallet_done.html", request=request)

    return list(router.routes)


def _wallet(portal: Portal) -> DemoWallet:
    if portal.wallet is None:  # only while the demo runs (PortalSettings.demo_wallet)
        raise NotFound("no such page")
    return portal.wallet


def _wallet_page(
    page: Page,
    demo: DemoWallet,
    *,
    code: str,
    chosen: str = "",
    error: OpenMynaError | None = None,
    status: int = 200,
) -> Response:
    token = page.request.cookies.get(WALLET_COOKIE) or secrets.token_urlsafe(32)
    response = page.render(
        "login/wallet.html",
        status=status,
        cards=demo.cards(),
        code=code,
        chosen=chosen,
        error=error,
        wallet_token=token,
    )
    response.set_cookie(
        WALLET_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(page.request, page.portal),
        path="/wallet",
    )
    return response


# --- the card-facing API ----------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _request_page(request: Request, request_id: str) -> Response:
    """The page a browser gets for a request's URL (the QR code opened without the app)."""
    context = page(request)
    try:
        found = context.portal.logins.challenge(request_id)
        response: Response = context.render(
            "login/request.html", request=found, wallet=context.portal.wallet is not None
        )
    except OpenMynaError as exc:
        response = error_page(request, exc)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _answer_body(request: Request) -> tuple[bytes, bytes]:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise LoginAnswerMalformed("the answer is too large")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
        certificate = base64.b64decode(body["certificate"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LoginAnswerMalformed(
            'the answer is {"certificate": base64, "signature": base64}'
        ) from None
    return certificate, signature


def api_routes() -> list[BaseRoute]:
    """The card-facing endpoint of the login (problem+json errors)."""
    router = APIRouter()

    @router.get(REQUEST_PATH + "{request_id}", tags=["portal"])
    def login_request(request: Request, request_id: str) -> Response:
        """A login request: its challenge for the holder's app (JSON), or a page for a browser."""
        if not _wants_json(request):
            return _request_page(request, request_id)
        found = _logins(request).challenge(request_id)
        return _no_store(JSONResponse(challenge_body(found)))

    @router.post(REQUEST_PATH + "{request_id}", tags=["portal"])
    async def login_answer(request: Request, request_id: str) -> Response:
        """The card's answer to a login request: its auth certificate and signature."""
        certificate, signature = await _answer_body(request)
        logins = _logins(request)
        answered = await run_in_threadpool(
            logins.answer, request_id, certificate, signature, client=_client(request)
        )
        body = {"status": RequestStatus.ANSWERED.value, "short_code": answered.display_code}
        return _no_store(JSONResponse(body))

    @router.get(CODE_PATH + "{short_code}", tags=["portal"])
    def login_by_code(request: Request, short_code: str) -> Response:
        """The challenge of the open login request with a short code (typed, not scanned)."""
        found = _logins(request).by_short_code(short_code[:32], client=_client(request))
        return _no_store(JSONResponse(challenge_body(found)))

    return list(router.routes)


def routes(*, wallet: bool = False) -> list[BaseRoute]:
    """Every route of the login (``portal.web`` adds them to the portal's).

    The demo wallet's routes are there only with ``wallet`` (``PortalSettings.demo_wallet``):
    an installation that is not the demo does not serve, nor list, ``/wallet``.
    """
    found = [*page_routes(), *api_routes()]
    return [r for r in found if wallet or not getattr(r, "path", "").startswith("/wallet")]
