"""The person's consent pages (同意) and the consent's one-time card URL.

Every page asks ``Consents`` with the session's certificate, and ``Consents`` finds that
certificate's holder itself: a request or consent of another person is the same 404 as one
that never existed. A proxy (代理人) never reaches these pages (they are not in the proxy
map): consenting and revoking are the person's own acts, signed with their own card.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from openmyna.card.eapply_app import sign_document
from openmyna.errors import NotFound, OpenMynaError
from openmyna.portal.eapply.models import CardRequestKind, CardTask
from openmyna.portal.eapply.wallet import answer_body, cms_of, demo_card, task_json
from openmyna.portal.eapply.web import qr_data_uri
from openmyna.portal.nav import N_
from openmyna.portal.pages import Page, PageDep, PageRoute, same_origin

#: The 4 items (基本4情報), in the card's order, and their labels.
ITEMS = ("name", "address", "date_of_birth", "sex")
ITEM_LABELS = {
    "name": N_("氏名"),
    "address": N_("住所"),
    "date_of_birth": N_("生年月日"),
    "sex": N_("性別"),
}
REASON_LABELS = {
    "moved_in": N_("転入"),
    "moved_within": N_("転居"),
    "name_changed": N_("氏名の変更"),
    "died": N_("死亡"),
    "moved_abroad": N_("国外転出"),
}
ACTION_LABELS = {
    "granted": N_("同意しました"),
    "revoked": N_("同意を取り消しました"),
    "provided": N_("最新の4情報を提供しました"),
    "refused": N_("同意の取消し後のため提供しませんでした"),
}


class ConsentService(Protocol):
    """The latest-4-items service's consents (``openmyna.latest_items.Consents``).

    The service is J-LIS's, above the portal in the layers: the pages know it by this
    interface only, and the app hands it over (``app.state.latest_items``).
    """

    def pending(self, subject_id: str) -> list[Any]:
        """The person's requests waiting for them."""
        ...

    def of_person(self, subject_id: str) -> list[Any]:
        """The person's consents."""
        ...

    def claim_link(self, account_id: str, subject_id: str, token: str) -> str:
        """Open a business's one-time link; the request's id."""
        ...

    def review(self, subject_id: str, request_id: str) -> Any:
        """One of the person's requests."""
        ...

    def decline(self, subject_id: str, request_id: str) -> Any:
        """Decline a request."""
        ...

    def consent(self, subject_id: str, consent_id: str) -> Any:
        """One of the person's consents."""
        ...

    def history(self, subject_id: str, consent_id: str) -> list[Any]:
        """A consent's log."""
        ...

    def revoke(self, subject_id: str, consent_id: str) -> Any:
        """Revoke a consent."""
        ...


class SigningService(Protocol):
    """The card step of a consent (``openmyna.latest_items.ConsentSigning``)."""

    def ask_signature(self, account_id: str, subject_id: str, request_id: str) -> tuple[Any, str]:
        """A one-time signing URL's token."""
        ...

    def card_task(self, token: str) -> CardTask:
        """What the one-time signing URL asks of the card."""
        ...

    def answer_signature(self, token: str, cms_der: bytes) -> Any:
        """The holder's app's CMS; the consent granted."""
        ...


def _service(request: Request) -> Any:
    service = getattr(request.app.state, "latest_items", None)
    if service is None:
        raise NotFound("no such page")
    return service


def consents_of(request: Request) -> ConsentService:
    """The consents of the latest-4-items service the app serves (404 if it has none)."""
    found: ConsentService = _service(request).consents
    return found


def signing_of(request: Request) -> SigningService:
    """The consents' card step (404 if the app serves no latest-4-items service)."""
    found: SigningService = _service(request).signing
    return found


def _request_page(page: Page, request_id: str, **extra: Any) -> HTMLResponse:
    session = page.require_login()
    consents = consents_of(page.request)
    found = consents.review(session.subject_id, request_id)
    return page.render(
        "consents/request.html",
        request=found,
        items=ITEMS,
        item_labels=ITEM_LABELS,
        reasons=REASON_LABELS,
        wallet=page.portal.wallet is not None,
        **extra,
    )


def routes(*, wallet: bool = False) -> list[BaseRoute]:
    """The routes of ``/consents`` (the portal is ``app.state.portal``)."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/consents", response_class=HTMLResponse, tags=["portal"])
    def consent_list(page: PageDep) -> Response:
        """同意: the person's consents to businesses, and the requests waiting for them."""
        session = page.require_login()
        consents = consents_of(page.request)
        return page.render(
            "consents/list.html",
            pending=consents.pending(session.subject_id),
            consents=consents.of_person(session.subject_id),
        )

    @router.get("/consents/link/{token}", tags=["portal"], include_in_schema=False)
    def open_link(page: PageDep, token: str) -> Response:
        """A business's one-time link: the request becomes the person's, to review."""
        session = page.require_login()
        request_id = consents_of(page.request).claim_link(
            session.account_id, session.subject_id, token
        )
        return page.redirect(f"/consents/requests/{request_id}")

    @router.get("/consents/requests/{request_id}", response_class=HTMLResponse, tags=["portal"])
    def review(page: PageDep, request_id: str) -> Response:
        """A business's consent request: what goes to whom, to sign or decline."""
        return _request_page(page, request_id)

    @router.post("/consents/requests/{request_id}/sign", response_class=HTMLResponse)
    def ask_signature(
        page: PageDep, request_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """Sign the consent with the card: a one-time URL for the holder's app."""
        session = page.require_csrf(csrf_token)
        _, token = signing_of(page.request).ask_signature(
            session.account_id, session.subject_id, request_id
        )
        url = str(page.request.base_url).rstrip("/") + f"/consents/card/{token}"
        return _request_page(page, request_id, url=url, token=token, qr=qr_data_uri(url))

    @router.post("/consents/requests/{request_id}/decline", tags=["portal"])
    def decline(
        page: PageDep, request_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """Decline a business's request: nothing is provided."""
        session = page.require_csrf(csrf_token)
        consents_of(page.request).decline(session.subject_id, request_id)
        return page.redirect("/consents")

    @router.get("/consents/{consent_id}", response_class=HTMLResponse, tags=["portal"])
    def consent(page: PageDep, consent_id: str, revoked: bool = False) -> Response:
        """One consent: to whom, since when, what was provided, and revoking it."""
        session = page.require_login()
        consents = consents_of(page.request)
        found = consents.consent(session.subject_id, consent_id)
        return page.render(
            "consents/consent.html",
            consent=found,
            history=consents.history(session.subject_id, consent_id),
            actions=ACTION_LABELS,
            items=ITEMS,
            item_labels=ITEM_LABELS,
            revoked=revoked,
        )

    @router.post("/consents/{consent_id}/revoke", tags=["portal"])
    def revoke(
        page: PageDep, consent_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """Revoke a consent: nothing more is provided to the business."""
        session = page.require_csrf(csrf_token)
        consents_of(page.request).revoke(session.subject_id, consent_id)
        return page.redirect(f"/consents/{consent_id}?revoked=true")

    api = APIRouter()

    @api.get("/consents/card/{token}", tags=["portal"])
    def card_task(request: Request, token: str) -> JSONResponse:
        """What the consent's one-time card URL asks (for the holder's app)."""
        task = signing_of(request).card_task(token)
        return JSONResponse(task_json(task), headers={"Cache-Control": "no-store"})

    @api.post("/consents/card/{token}", tags=["portal"])
    async def card_answer(request: Request, token: str) -> JSONResponse:
        """The holder's app answers with the CMS signature of the consent document."""
        signing = signing_of(request)
        cms = cms_of(await answer_body(request))
        granted = await run_in_threadpool(signing.answer_signature, token, cms)
        return JSONResponse(
            {"status": "submitted", "reference": granted.consent_id},
            headers={"Cache-Control": "no-store"},
        )

    pages = APIRouter(route_class=PageRoute)

    def wallet_page(page: Page, token: str, **extra: Any) -> HTMLResponse:
        demo = page.portal.wallet
        if demo is None:  # only while the demo runs (PortalSettings.demo_wallet)
            raise NotFound("no such page")
        task = signing_of(page.request).card_task(token)
        return page.render(
            "eapply/wallet.html",
            task=task,
            token=token,
            cards=demo.cards(),
            kinds=CardRequestKind,
            wallet_action=f"/consents/wallet/{token}",
            **extra,
        )

    @pages.get("/consents/wallet/{token}", response_class=HTMLResponse, tags=["portal"])
    def wallet_form(page: PageDep, token: str) -> Response:
        """The demo wallet for a consent: pick a demo card, type its signature password."""
        return wallet_page(page, token)

    @pages.post("/consents/wallet/{token}", response_class=HTMLResponse, tags=["portal"])
    def wallet_answer(
        page: PageDep,
        token: str,
        card: Annotated[str, Form(max_length=200)] = "",
        secret: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        """The demo wallet signs the consent with the chosen card and answers the request."""
        demo = page.portal.wallet
        if demo is None:
            raise NotFound("no such page")
        same_origin(page.request)
        signing = signing_of(page.request)
        task = signing.card_task(token)
        try:
            with demo_card(demo, card) as client:
                cms = sign_document(
                    client, secret, task.document, signing_time=page.portal.clock.now()
                )
                signing.answer_signature(token, cms)
        except OpenMynaError as exc:
            tries = exc.context.get("tries_left")
            return wallet_page(
                page, token, error=exc.code, tries_left=tries, chosen=card, status=400
            )
        return page.render(
            "eapply/wallet_done.html",
            task=task,
            reference="",
            consent_done=True,
        )

    return [*router.routes, *api.routes, *(pages.routes if wallet else [])]
