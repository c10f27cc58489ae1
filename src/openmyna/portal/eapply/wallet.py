"""The card's side of 申請: the one-time URLs the holder's app answers, and the demo wallet.

``GET /services/card/{token}`` tells the holder's app what the page asks (JSON); ``POST``
answers it: the card's items for a form, or the CMS signature of an application. No
session: the random token in the URL is the authority, once, for five minutes. Errors are
RFC 9457 problems with their codes. ``openmyna card prefill`` and ``openmyna card
sign-application`` are such apps (``openmyna.card.eapply_app``).

The demo wallet (``/services/wallet/{token}``, only when ``Settings.portal.demo_wallet`` is
on, as ``openmyna demo`` sets it) stands in for the holder's phone: pick one of the demo
cards the login's wallet lists (``Portal.wallet``, ``portal.login.wallet``: the card files
under ``$OPENMYNA_DATA_DIR/demo-cards/`` and their ``cards.json``), type its PIN or
password, and the wallet reads or signs with that card through ``CardClient`` and the same
card code as the app (``card.eapply_app``), and answers the same request.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.card.eapply_app import read_items, sign_document
from openmyna.errors import NotFound, OpenMynaError
from openmyna.portal.eapply.errors import CardAnswerInvalid
from openmyna.portal.eapply.models import CardRequestKind, CardTask, PrefillItems
from openmyna.portal.eapply.web import PayloadTooLarge, eapply_of
from openmyna.portal.login.wallet import DemoWallet
from openmyna.portal.pages import Page, PageDep, PageRoute, same_origin

MAX_ANSWER_BYTES = 64 * 1024


class PrefillBody(BaseModel):
    """What the holder's app posts for a form: the card's items (the number only if asked)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    address: str | None = Field(None, min_length=1, max_length=400)
    date_of_birth: dt.date | None = None
    sex: int | None = Field(None, ge=0, le=9)
    individual_number: str | None = Field(None, pattern=r"^[0-9]{12}$")

    def __repr__(self) -> str:
        return "PrefillBody(…)"


class SignBody(BaseModel):
    """What the holder's app posts for a signature: the detached CMS, base64."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cms: str = Field(min_length=1, max_length=32 * 1024)


def task_json(task: CardTask) -> dict[str, Any]:
    """A card task as the holder's app reads it."""
    body: dict[str, Any] = {
        "kind": task.kind.value,
        "service": task.service_title,
        "municipality": task.municipality,
        "expires_at": task.expires_at.isoformat(),
    }
    if task.kind is CardRequestKind.PREFILL:
        body["items"] = list(task.items)
    else:
        body["document"] = base64.b64encode(task.document).decode("ascii")
        body["sha256"] = hashlib.sha256(task.document).hexdigest()
    return body


async def answer_body(request: Request) -> object:
    """The JSON body a holder's app posts to a one-time card URL (at most 64 KiB)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_ANSWER_BYTES):
        raise PayloadTooLarge("the answer is too large", limit=MAX_ANSWER_BYTES)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise PayloadTooLarge("the answer is too large", limit=MAX_ANSWER_BYTES)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CardAnswerInvalid("the answer is not JSON") from None


def _prefill_items(body: object) -> PrefillItems:
    try:
        parsed = PrefillBody.model_validate(body)
    except ValidationError:
        raise CardAnswerInvalid("the card's items are not in the expected form") from None
    return PrefillItems(
        parsed.name, parsed.address, parsed.date_of_birth, parsed.sex, parsed.individual_number
    )


def cms_of(body: object) -> bytes:
    """The detached CMS of a signing answer (``{"cms": BASE64}``)."""
    try:
        parsed = SignBody.model_validate(body)
        return base64.b64decode(parsed.cms, validate=True)
    except (ValidationError, ValueError):
        raise CardAnswerInvalid("the signature is not a base64 CMS") from None


@contextlib.contextmanager
def demo_card(demo: DemoWallet, name: str) -> Iterator[CardClient]:
    """One of the demo wallet's cards, opened (``DEMO_CARD_NOT_FOUND``, ``CARD_IN_USE``).

    Every page of the demo wallet that reads or signs with a card (the e-applications', the
    latest-4-items consents') opens it here.
    """
    chosen = demo.card(name)
    with CardFile.open(demo.directory / chosen.file, settings=demo.settings) as opened:
        client = CardClient(MemoryTransport(opened.card))
        client.require_my_number_card()
        yield client


def _demo(page: Page) -> DemoWallet:
    if page.portal.wallet is None:  # only while the demo runs (PortalSettings.demo_wallet)
        raise NotFound("no such page")
    return page.portal.wallet


def routes(*, wallet: bool = False) -> list[Any]:
    """The card endpoints (JSON) and, with ``wallet`` (the demo only), the wallet's pages."""
    api = APIRouter()

    @api.get("/services/card/{token}", tags=["portal"])
    def card_task(request: Request, token: str) -> JSONResponse:
        """What a one-time card request asks (for the holder's app)."""
        task = eapply_of(request).cards.task(token)
        return JSONResponse(task_json(task), headers={"Cache-Control": "no-store"})

    @api.post("/services/card/{token}", tags=["portal"])
    async def card_answer(request: Request, token: str) -> JSONResponse:
        """The holder's app answers a card request: the card's items, or the signature."""
        eapply = eapply_of(request)
        kind = await run_in_threadpool(eapply.cards.kind, token)
        body = await answer_body(request)
        if kind is CardRequestKind.PREFILL:
            await run_in_threadpool(eapply.cards.answer_prefill, token, _prefill_items(body))
            answer: dict[str, str] = {"status": "filled"}
        else:
            application = await run_in_threadpool(
                eapply.cards.answer_signature, token, cms_of(body)
            )
            answer = {"status": "submitted", "reference": application.reference}
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    pages = APIRouter(route_class=PageRoute)

    def wallet_page(page: Page, demo: DemoWallet, token: str, **extra: Any) -> HTMLResponse:
        task = eapply_of(page.request).cards.task(token)
        return page.render(
            "eapply/wallet.html",
            task=task,
            token=token,
            cards=demo.cards(),
            kinds=CardRequestKind,
            **extra,
        )

    @pages.get("/services/wallet/{token}", response_class=HTMLResponse, tags=["portal"])
    def wallet_form(page: PageDep, token: str) -> Response:
        """The demo wallet: what the page asks, a demo card to pick, its PIN to type."""
        return wallet_page(page, _demo(page), token)

    @pages.post("/services/wallet/{token}", response_class=HTMLResponse, tags=["portal"])
    def wallet_answer(
        page: PageDep,
        token: str,
        card: Annotated[str, Form(max_length=200)] = "",
        secret: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        """The demo wallet reads or signs with the chosen card and answers the request."""
        demo = _demo(page)
        same_origin(page.request)
        eapply = eapply_of(page.request)
        task = eapply.cards.task(token)
        try:
            with demo_card(demo, card) as client:
                if task.kind is CardRequestKind.PREFILL:
                    items = read_items(client, secret, task.items)
                    eapply.cards.answer_prefill(token, _prefill_items(items))
                    reference = ""
                else:
                    cms = sign_document(
                        client, secret, task.document, signing_time=eapply.clock.now()
                    )
                    reference = eapply.cards.answer_signature(token, cms).reference
        except OpenMynaError as exc:
            tries = exc.context.get("tries_left")
            return wallet_page(
                page, demo, token, error=exc.code, tries_left=tries, chosen=card, status=400
            )
        return page.render("eapply/wallet_done.html", task=task, reference=reference)

    return [*api.routes, *(pages.routes if wallet else [])]
