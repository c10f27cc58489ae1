"""The provider's endpoints and the consent screen (``routes()``; the app holds ``Oidc`` as
``app.state.oidc``).

- ``/.well-known/openid-configuration`` and ``/oidc/jwks``: discovery and the public keys;
- ``/oidc/authorize``: Authlib and openmyna's checks; an accepted request waits as an
  authorization and the browser goes to its consent screen ``/oidc/consent/<id>``, which
  needs the portal's card login (``/login?next=…`` and back);
- the consent screen lists what goes to whom; with the 4 items or ``sign`` the person signs
  first (``/oidc/consent/<id>/sign`` opens a one-time card request, ``/oidc/card/<token>``,
  which ``openmyna card sign-application`` answers); approve or decline ends in a redirect
  to the client with the code (or ``access_denied``) and the state;
- ``/oidc/token``, ``/oidc/userinfo``, ``/oidc/revoke``: Authlib's endpoints (userinfo is a
  look-up of the access token).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.card.eapply_app import sign_document
from openmyna.errors import NotFound, OpenMynaError
from openmyna.guard import CREDENTIALS_OR_PARAMETERS
from openmyna.identity.oidc import errors
from openmyna.identity.oidc.adapter import (
    oauth_request,
    origin_of,
    read_form,
    to_response,
)
from openmyna.identity.oidc.provider import ACR_CARD, Authorization, EndUser
from openmyna.identity.oidc.service import Oidc
from openmyna.portal.eapply.wallet import answer_body, cms_of
from openmyna.portal.login.wallet import DemoWallet
from openmyna.portal.pages import SECURITY_HEADERS, Page, PageDep, PageRoute, same_origin

#: The consent screen's labels of what goes to the client, by scope.
ITEM_ORDER = ("name", "address", "birthdate", "gender")


class ProxyRefused(OpenMynaError):
    """A proxy (代理人) cannot consent for the person they act for."""

    code = "OIDC_PROXY_REFUSED"
    http_status = 403


def oidc_of(request: Request) -> Oidc:
    """The provider serving the app (``app.state.oidc``)."""
    found: Oidc = request.app.state.oidc
    found.provider.bind(origin_of(request))
    return found


def _consent_csp(auth: Authorization) -> str:
    """The pages' policy, with the client's redirect origin allowed as a form's target."""
    target = urlsplit(auth.params["redirect_uri"])
    origin = f"{target.scheme}://{target.netloc}"
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}")


def _render(page: Page, auth: Authorization, **extra: Any) -> HTMLResponse:
    signed = auth.signed or {}
    response = page.render(
        "oidc/consent.html",
        auth=auth,
        client=auth.client,
        items=[s for s in ITEM_ORDER if s in auth.scopes],
        signed=signed,
        sign_asked="sign" in auth.scopes,
        document_sha256=auth.params.get("sign_document_sha256"),
        **extra,
    )
    response.headers["Content-Security-Policy"] = _consent_csp(auth)
    return response


def _own(page: Page, oidc: Oidc, authorization_id: str) -> Authorization:
    session = page.require_login()
    if session.acting is not None:
        raise ProxyRefused("a proxy cannot consent for the person they act for")
    return oidc.provider.authorization(authorization_id, session.account_id, session.subject_id)


def _error_page(page: Page, error: OAuth2Error) -> HTMLResponse:
    code = getattr(error, "code", None) or str(error.error).upper()
    return page.render(
        "oidc/error.html", status=error.status_code or 400, code=code, error=error.error
    )


def routes() -> list[Any]:
    """The provider's routes."""
    api = APIRouter()

    @api.get("/.well-known/openid-configuration", tags=["oidc"])
    def discovery(request: Request) -> JSONResponse:
        """OpenID Connect Discovery: the provider's metadata."""
        return JSONResponse(oidc_of(request).provider.discovery())

    @api.get("/oidc/jwks", tags=["oidc"])
    def jwks(request: Request) -> JSONResponse:
        """The ID tokens' public keys (the current one and those not yet expired)."""
        provider = oidc_of(request).provider
        keys = provider.keys.jwks()
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=60"})

    @api.post("/oidc/token", tags=["oidc"])
    async def token(request: Request) -> Response:
        """The token endpoint: code or refresh token for tokens (client authenticated)."""
        oidc = oidc_of(request)
        form = await read_form(request)
        origin = origin_of(request)

        def answer() -> Response:
            oidc.provider.bind(origin)
            made = oidc.provider.server.create_token_response(oauth_request(request, form, []))
            return to_response(*made)

        return await run_in_threadpool(answer)

    @api.post("/oidc/revoke", tags=["oidc"])
    async def revoke(request: Request) -> Response:
        """RFC 7009 revocation (client authenticated)."""
        oidc = oidc_of(request)
        form = await read_form(request)
        origin = origin_of(request)

        def answer() -> Response:
            oidc.provider.bind(origin)
            made = oidc.provider.server.create_endpoint_response(
                "revocation", oauth_request(request, form, [])
            )
            return to_response(*made)

        return await run_in_threadpool(answer)

    @api.get("/oidc/userinfo", tags=["oidc"], openapi_extra=CREDENTIALS_OR_PARAMETERS)
    def userinfo(request: Request) -> Response:
        """The claims of the access token's grant (Bearer)."""
        return _userinfo(request, None)

    @api.post("/oidc/userinfo", tags=["oidc"])
    async def userinfo_post(request: Request) -> Response:
        """The same by POST: the token in the header or the form (RFC 6750 §2.1, §2.2)."""
        form = dict(await read_form(request))
        return await run_in_threadpool(_userinfo, request, form.get("access_token"))

    def _userinfo(request: Request, in_form: str | None) -> Response:
        oidc = oidc_of(request)
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        presented = value.strip() if scheme.lower() == "bearer" else ""
        try:
            if bool(presented) == bool(in_form):
                # RFC 6750 §2: exactly one way of sending the token.
                raise errors.TokenInvalid("one Bearer access token is required")
            claims = oidc.provider.userinfo(presented or str(in_form))
        except errors.TokenInvalid as exc:
            body = dict(exc.get_body())
            return JSONResponse(
                body,
                status_code=401,
                headers={
                    "WWW-Authenticate": f'Bearer error="invalid_token", code="{exc.code}"',
                    "Cache-Control": "no-store",
                },
            )
        return JSONResponse(claims, headers={"Cache-Control": "no-store"})

    @api.get("/oidc/card/{token}", tags=["oidc"])
    def card_task(request: Request, token: str) -> JSONResponse:
        """What a consent's one-time signature request asks (for the holder's app)."""
        task = oidc_of(request).signing.task(token)
        return JSONResponse(task, headers={"Cache-Control": "no-store"})

    @api.post("/oidc/card/{token}", tags=["oidc"])
    async def card_answer(request: Request, token: str) -> JSONResponse:
        """The holder's app posts the CMS signature of the consent document."""
        oidc = oidc_of(request)
        cms = cms_of(await answer_body(request))
        authorization = await run_in_threadpool(oidc.signing.answer, token, cms)
        return JSONResponse(
            {"status": "signed", "reference": authorization[:8]},
            headers={"Cache-Control": "no-store"},
        )

    pages = APIRouter(route_class=PageRoute)

    @pages.get(
        "/oidc/authorize",
        response_class=HTMLResponse,
        tags=["oidc"],
        openapi_extra=CREDENTIALS_OR_PARAMETERS,
    )
    def authorize(page: PageDep) -> Response:
        """The authorization endpoint: check the request, then the consent screen."""
        oidc = oidc_of(page.request)
        made = oauth_request(page.request)
        try:
            oidc.provider.server.get_consent_grant(made)
        except OAuth2Error as exc:
            if exc.redirect_uri:
                return to_response(*oidc.provider.server.handle_error_response(made, exc))
            return _error_page(page, exc)
        params = dict(page.request.query_params)
        auth = oidc.provider.begin(params)
        return RedirectResponse(f"/oidc/consent/{auth.authorization_id}", status_code=303)

    @pages.get("/oidc/consent/{authorization_id}", response_class=HTMLResponse, tags=["oidc"])
    def consent(page: PageDep, authorization_id: str) -> Response:
        """The consent screen: what goes to whom, the signature step, approve or decline."""
        oidc = oidc_of(page.request)
        return _render(page, _own(page, oidc, authorization_id))

    @pages.post("/oidc/consent/{authorization_id}/sign", response_class=HTMLResponse, tags=["oidc"])
    def consent_sign(
        page: PageDep,
        authorization_id: str,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Open a one-time signature request for the consent (the card's app answers it)."""
        page.require_csrf(csrf_token)
        oidc = oidc_of(page.request)
        auth = _own(page, oidc, authorization_id)
        token = oidc.signing.request(auth)
        url = origin_of(page.request) + f"/oidc/card/{token}"
        wallet = f"/oidc/wallet/{token}" if page.portal.wallet is not None else None
        return _render(page, _own(page, oidc, authorization_id), card_url=url, wallet=wallet)

    @pages.post("/oidc/consent/{authorization_id}", response_class=HTMLResponse, tags=["oidc"])
    def consent_answer(
        page: PageDep,
        authorization_id: str,
        csrf_token: Annotated[str | None, Form()] = None,
        decision: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        """The person approves (a code goes to the client) or declines (access_denied)."""
        session = page.require_csrf(csrf_token)
        oidc = oidc_of(page.request)
        auth = _own(page, oidc, authorization_id)
        query = list(auth.params.items())
        made = oauth_request(page.request, [], query)
        user: EndUser | None = None
        if decision == "approve":
            if auth.needs_signature and auth.status != "signed":
                raise errors.SignatureRequired("sign with your card first")
            user = EndUser(
                account_id=session.account_id,
                subject_id=session.subject_id,
                acr=ACR_CARD,
                auth_time=int(session.created_at.timestamp()),
                claims=dict(auth.signed or {}),
            )
        try:
            grant = oidc.provider.server.get_consent_grant(made, end_user=user)
        except OAuth2Error as exc:
            oidc.provider.finish(auth.authorization_id, "denied")
            if exc.redirect_uri:
                return to_response(*oidc.provider.server.handle_error_response(made, exc))
            return _error_page(page, exc)
        answered = oidc.provider.server.create_authorization_response(
            made, grant_user=user, grant=grant
        )
        oidc.provider.finish(auth.authorization_id, "done" if user else "denied")
        return to_response(*answered)

    @pages.get("/oidc/wallet/{token}", response_class=HTMLResponse, tags=["oidc"])
    def wallet_form(page: PageDep, token: str) -> Response:
        """The demo wallet for the consent's signature (only while the demo runs)."""
        demo = _demo_wallet(page)
        task = oidc_of(page.request).signing.task(token)
        return page.render("oidc/wallet.html", task=task, token=token, cards=demo.cards())

    @pages.post("/oidc/wallet/{token}", response_class=HTMLResponse, tags=["oidc"])
    def wallet_sign(
        page: PageDep,
        token: str,
        card: Annotated[str, Form(max_length=200)] = "",
        secret: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        """The demo wallet signs the consent with the chosen demo card, then goes back."""
        demo = _demo_wallet(page)
        same_origin(page.request)
        oidc = oidc_of(page.request)
        task = oidc.signing.task(token)
        document = base64.b64decode(task["document"])
        try:
            chosen = demo.card(card)
            with CardFile.open(demo.directory / chosen.file, settings=demo.settings) as opened:
                client = CardClient(MemoryTransport(opened.card))
                client.require_my_number_card()
                cms = sign_document(
                    client, secret, document, signing_time=oidc.provider.clock.now()
                )
            authorization = oidc.signing.answer(token, cms)
        except OpenMynaError as exc:
            return page.render(
                "oidc/wallet.html",
                status=400,
                task=task,
                token=token,
                cards=demo.cards(),
                error=exc.code,
                tries_left=exc.context.get("tries_left"),
                chosen=card,
            )
        return page.redirect(f"/oidc/consent/{authorization}")

    return [*api.routes, *pages.routes]


def _demo_wallet(page: Page) -> DemoWallet:
    if page.portal.wallet is None:  # only while the demo runs (PortalSettings.demo_wallet)
        raise NotFound("no such page")
    return page.portal.wallet
