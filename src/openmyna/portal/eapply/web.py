"""The pages of 申請 (P5) under ``/services``: search, a service, its form, sign, follow.

- ``GET /services``: search by municipality, category, life event and words (no login);
- ``GET /services/{service_id}``: what the service is, who receives it, what it needs;
- ``POST /services/{service_id}/drafts``: start an application (a draft);
- ``GET|POST /services/drafts/{id}``: the form, rendered from its definition and checked
  by the same definition; errors beside the fields and in a summary at the top;
- ``POST /services/drafts/{id}/prefill``: consent, then a one-time card request;
- ``GET /services/drafts/{id}/confirm``, ``POST …/sign``: the answers as they will be signed,
  then a one-time signing request;
- ``GET /services/drafts/{id}/card/{request}``: the card request's page (the one-time URL is
  shown once, in the answer to the POST that made it; the table keeps only its hash), and
  ``…/status``, which the page polls (htmx) until the card answered;
- ``GET /services/applications`` and ``…/{id}``: the person's own applications and their
  status; another person's id is 404. ``/applications/{id}`` (the link a notice carries,
  ``portal.notices``) leads there.

The card's side (``/services/card/{token}``) and the demo wallet are in ``wallet``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from openmyna.errors import InvalidInput
from openmyna.portal.eapply.catalogue import Service
from openmyna.portal.eapply.drafts import Upload
from openmyna.portal.eapply.errors import (
    ConsentRequired,
    DraftNotEditable,
    FormIncomplete,
)
from openmyna.portal.eapply.forms import (
    MESSAGES,
    Checked,
    FieldError,
    FormDefinition,
    check_answers,
    field_key,
    form_values,
    masked_numbers,
    municipality_codes,
)
from openmyna.portal.eapply.models import (
    CardRequest,
    CardRequestKind,
    CardRequestStatus,
    Draft,
    DraftStatus,
)
from openmyna.portal.eapply.service import EApply
from openmyna.portal.pages import CSRF_FIELD, Page, PageDep, PageRoute, portal_of
from openmyna.registry import find_municipality, known_municipalities

#: A form post (answers and attachments) larger than this is refused before it is read.
MAX_FORM_BYTES = 12 * 1024 * 1024
MAX_FIELD_BYTES = 16 * 1024
POLL_SECONDS = 2
#: Errors of what is missing: they do not stop a save for later.
_MISSING = frozenset(
    ("required", "required_choice", "required_check", "too_few", "attachment_required")
)


class PayloadTooLarge(InvalidInput):
    """A form post larger than the portal reads."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class LengthRequired(InvalidInput):
    """A form post without its length."""

    code = "LENGTH_REQUIRED"
    http_status = 411


def eapply_of(request: Request) -> EApply:
    """The portal's e-applications (``PORTAL_PART_MISSING`` if it was built without)."""
    return portal_of(request).eapply


def as_date(value: object) -> dt.date | None:
    """An ISO date answer as a date (for the date filters), else ``None``."""
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def municipality_name(lg_code: object) -> str:
    """A municipality's full name from its code (the code itself if unknown)."""
    try:
        return find_municipality(str(lg_code)).full_name
    except Exception:  # noqa: BLE001 - shown text only: an unknown code shows as itself
        return str(lg_code)


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG ``data:`` URI (CSP allows ``img-src data:``)."""
    uri: str = segno.make(text, error="m").svg_data_uri(scale=5, border=2, dark="#1a1a1a")
    return uri


def input_labels(form: FormDefinition, language: str, repeats: dict[str, int]) -> dict[str, str]:
    """What each input (and repeated section) is called, for the error summary's links."""
    labels: dict[str, str] = {}
    for section in form.sections:
        labels[section.id] = section.title.of(language)
        if section.repeat is None:
            for f in section.fields:
                labels[field_key(section.id, f.name)] = f.label.of(language)
            continue
        item = section.repeat.item.of(language)
        for index in range(repeats.get(section.id, section.repeat.max)):
            for f in section.fields:
                key = field_key(section.id, f.name, index)
                labels[key] = f"{item} {index + 1} {f.label.of(language)}"
    for attachment in form.attachments:
        labels[attachment.name] = attachment.label.of(language)
    return labels


def _context(page: Page, eapply: EApply) -> dict[str, Any]:
    return {
        "catalogue": eapply.catalogue,
        "messages": MESSAGES,
        "as_date": as_date,
        "municipality_name": municipality_name,
        "field_key": field_key,
        "lang": page.language,
        "today": eapply.clock.today().isoformat(),
    }


def _render_form(
    page: Page,
    eapply: EApply,
    draft: Draft,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, FieldError] | None = None,
    status: int = 200,
    consent_error: bool = False,
    saved: bool = False,
    more: str = "",
) -> HTMLResponse:
    service = eapply.drafts.service_of(draft)
    form = service.form
    shown = values if values is not None else form_values(form, draft.answers)
    repeats = {}
    for section in form.sections:
        if section.repeat is not None:
            filled = draft.answers.get(section.id)
            count = len(filled) if isinstance(filled, list) else 0
            if values is not None:  # re-shown with errors: as many as were posted
                posted = [k.split(".") for k in values if k.startswith(section.id + ".")]
                indexes = [int(p[1]) + 1 for p in posted if len(p) == 3 and p[1].isdigit()]
                count = max([count, *indexes])
            wanted = max(section.repeat.min, 1, count) + (1 if more == section.id else 0)
            repeats[section.id] = min(wanted, section.repeat.max)
    return page.render(
        "eapply/form.html",
        status=status,
        service=service,
        form=form,
        draft=draft,
        values=shown,
        errors=errors or {},
        masked=masked_numbers(form, draft.answers),
        attachments={a.slot: a for a in eapply.drafts.attachments(draft.draft_id)},
        repeats=repeats,
        labels=input_labels(form, page.language, repeats),
        consent_error=consent_error,
        saved=saved,
        municipalities=known_municipalities(),
        **_context(page, eapply),
    )


def _summary(eapply: EApply, draft: Draft) -> Checked:
    form = eapply.drafts.service_of(draft).form
    shown = form_values(form, draft.answers)
    return check_answers(form, shown, eapply.clock.today(), kept=draft.answers)


def _card_page(
    page: Page,
    eapply: EApply,
    draft: Draft,
    request: CardRequest,
    token: str | None,
) -> HTMLResponse:
    url = str(page.request.base_url).rstrip("/") + f"/services/card/{token}" if token else ""
    return page.render(
        "eapply/card.html",
        service=eapply.drafts.service_of(draft),
        draft=draft,
        card_request=request,
        url=url,
        qr=qr_data_uri(url) if url else "",
        wallet=page.portal.settings.demo_wallet,
        token=token or "",
        poll=POLL_SECONDS,
        kinds=CardRequestKind,
        **_context(page, eapply),
    )


def _done_target(request: CardRequest) -> str:
    if request.kind is CardRequestKind.PREFILL:
        return f"/services/drafts/{request.draft_id}?filled=1"
    return f"/services/applications/{request.draft_id}"


async def _posted_form(request: Request, attachments: int) -> Any:
    length = request.headers.get("content-length")
    if length is None:
        raise LengthRequired("the form post has no length")
    if not length.isdigit() or int(length) > MAX_FORM_BYTES:
        raise PayloadTooLarge("the form is too large", limit=MAX_FORM_BYTES)
    return await request.form(
        max_files=attachments + 1, max_fields=400, max_part_size=MAX_FIELD_BYTES
    )


def routes(*, wallet: bool = False) -> list[Any]:
    """The pages of 申請 (P5); the card endpoints, and the wallet in the demo, from ``wallet``."""
    from openmyna.portal.eapply.wallet import routes as card_routes

    router = APIRouter(route_class=PageRoute)

    @router.get("/services", response_class=HTMLResponse, tags=["portal"])
    def search(
        page: PageDep,
        municipality: str = "",
        category: str = "",
        life_event: str = "",
        q: str = "",
    ) -> Response:
        """申請: search the services by municipality, category, life event and words."""
        eapply = eapply_of(page.request)
        catalogue = eapply.catalogue
        municipality = municipality if municipality in municipality_codes() else ""
        category = category if category in catalogue.categories else ""
        life_event = life_event if life_event in catalogue.life_events else ""
        query = q.strip()[:50]
        searched = bool(municipality or category or life_event or query)
        results = catalogue.search(
            lg_code=municipality or None,
            category=category or None,
            life_event=life_event or None,
            query=query or None,
        )
        return page.render(
            "eapply/search.html",
            results=results,
            searched=searched,
            chosen={
                "municipality": municipality,
                "category": category,
                "life_event": life_event,
                "q": query,
            },
            municipalities=catalogue.municipalities(),
            **_context(page, eapply),
        )

    @router.get("/services/applications", response_class=HTMLResponse, tags=["portal"])
    def my_applications(page: PageDep) -> Response:
        """The person's applications and their status, and the drafts not yet submitted."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        return page.render(
            "eapply/applications.html",
            applications=eapply.applications.of_account(session.account_id),
            drafts=eapply.drafts.open_drafts(session.account_id),
            **_context(page, eapply),
        )

    @router.get(
        "/services/applications/{application_id}", response_class=HTMLResponse, tags=["portal"]
    )
    def my_application(page: PageDep, application_id: str) -> Response:
        """One of the person's applications: what was signed, and its status to the decision."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        application = eapply.applications.for_account(session.account_id, application_id)
        service = eapply.catalogue.service(application.service_id)
        answers = application.answers()
        return page.render(
            "eapply/application.html",
            application=application,
            service=service,
            form=service.form,
            answers=answers,
            masked=masked_numbers(service.form, answers),
            history=eapply.applications.history(application.application_id),
            attachments=eapply.drafts.attachments(application.application_id),
            **_context(page, eapply),
        )

    @router.get("/services/drafts/{draft_id}", response_class=HTMLResponse, tags=["portal"])
    def draft_form(
        page: PageDep, draft_id: str, saved: int = 0, filled: int = 0, more: str = ""
    ) -> Response:
        """The form of a draft, filled with what is kept."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        draft = eapply.drafts.get(session.account_id, draft_id)
        if draft.status is DraftStatus.SUBMITTED:
            return page.redirect(f"/services/applications/{draft.draft_id}")
        return _render_form(page, eapply, draft, saved=bool(saved), more=more[:40])

    @router.post("/services/drafts/{draft_id}", response_class=HTMLResponse, tags=["portal"])
    async def save_draft(page: PageDep, draft_id: str) -> Response:
        """Check and keep the answers; on to the confirmation, or back with the errors."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        draft = await run_in_threadpool(eapply.drafts.get, session.account_id, draft_id)
        form = eapply.drafts.service_of(draft).form
        posted = await _posted_form(page.request, len(form.attachments))
        try:
            token = posted.get(CSRF_FIELD)
            page.require_csrf(token if isinstance(token, str) else None)
            raw = {k: v for k, v in posted.items() if isinstance(v, str)}
            uploads = []
            for attachment in form.attachments:
                upload = posted.get(attachment.name)
                if isinstance(upload, UploadFile) and upload.filename:
                    content = await upload.read(attachment.max_bytes + 1)
                    uploads.append(Upload(attachment.name, upload.filename, content))
        finally:
            await posted.close()
        remove = [a.name for a in form.attachments if raw.get(f"remove.{a.name}") == "yes"]
        checked = await run_in_threadpool(
            eapply.drafts.save,
            session.account_id,
            draft.draft_id,
            raw,
            uploads=uploads,
            remove=remove,
        )
        action = raw.get("action", "confirm")
        finishing = action == "confirm"
        # Saving for later or adding a child keeps what passed; only wrong values stop it.
        errors = {k: e for k, e in checked.errors.items() if finishing or e.code not in _MISSING}
        if errors:
            fresh = await run_in_threadpool(eapply.drafts.get, session.account_id, draft_id)
            shown = {k: v for k, v in raw.items() if not _is_number_input(form, k)}
            return await run_in_threadpool(
                lambda: _render_form(page, eapply, fresh, values=shown, errors=errors, status=422)
            )
        if action.startswith("add:"):
            section = action[4:44]
            return page.redirect(f"/services/drafts/{draft.draft_id}?more={section}#s-{section}")
        if action == "save":
            return page.redirect(f"/services/drafts/{draft.draft_id}?saved=1")
        return page.redirect(f"/services/drafts/{draft.draft_id}/confirm")

    @router.post("/services/drafts/{draft_id}/prefill", tags=["portal"])
    def prefill(
        page: PageDep,
        draft_id: str,
        csrf_token: Annotated[str | None, Form()] = None,
        consent: Annotated[str | None, Form()] = None,
    ) -> Response:
        """The person consented: a one-time request for their card's 券面事項入力補助AP."""
        session = page.require_csrf(csrf_token)
        eapply = eapply_of(page.request)
        draft = eapply.drafts.get(session.account_id, draft_id)
        try:
            request, token = eapply.cards.request_prefill(
                session.account_id, session.subject_id, draft.draft_id, consent=consent == "yes"
            )
        except ConsentRequired:
            return _render_form(page, eapply, draft, status=422, consent_error=True)
        return _card_page(page, eapply, draft, request, token)

    @router.get("/services/drafts/{draft_id}/confirm", response_class=HTMLResponse, tags=["portal"])
    def confirm(page: PageDep, draft_id: str) -> Response:
        """The answers as they will be signed, and the button that signs them."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        draft = eapply.drafts.get(session.account_id, draft_id)
        if draft.status is DraftStatus.SUBMITTED:
            return page.redirect(f"/services/applications/{draft.draft_id}")
        checked = _summary(eapply, draft)
        if not checked.ok:
            return page.redirect(f"/services/drafts/{draft.draft_id}")
        service = eapply.drafts.service_of(draft)
        return page.render(
            "eapply/confirm.html",
            service=service,
            form=service.form,
            draft=draft,
            answers=checked.answers,
            masked=masked_numbers(service.form, checked.answers),
            attachments=eapply.drafts.attachments(draft.draft_id),
            **_context(page, eapply),
        )

    @router.post("/services/drafts/{draft_id}/sign", tags=["portal"])
    def sign(
        page: PageDep, draft_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """A one-time signing request over the application's document."""
        session = page.require_csrf(csrf_token)
        eapply = eapply_of(page.request)
        draft = eapply.drafts.get(session.account_id, draft_id)
        try:
            request, token = eapply.cards.request_signature(
                session.account_id, session.subject_id, draft.draft_id
            )
        except FormIncomplete:
            return page.redirect(f"/services/drafts/{draft.draft_id}")
        except DraftNotEditable:
            return page.redirect(f"/services/applications/{draft.draft_id}")
        return _card_page(page, eapply, draft, request, token)

    @router.get(
        "/services/drafts/{draft_id}/card/{request_id}",
        response_class=HTMLResponse,
        tags=["portal"],
    )
    def card_request(page: PageDep, draft_id: str, request_id: str) -> Response:
        """Where a card request stands (the page without JavaScript reloads this)."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        request = eapply.cards.get(session.account_id, draft_id, request_id)
        if request.status is CardRequestStatus.ANSWERED:
            return page.redirect(_done_target(request))
        draft = eapply.drafts.get(session.account_id, draft_id)
        return _card_page(page, eapply, draft, request, None)

    @router.get(
        "/services/drafts/{draft_id}/card/{request_id}/status",
        response_class=HTMLResponse,
        tags=["portal"],
    )
    def card_status(page: PageDep, draft_id: str, request_id: str) -> Response:
        """The card request's status, for the waiting page's poll (htmx)."""
        session = page.require_login()
        eapply = eapply_of(page.request)
        request = eapply.cards.get(session.account_id, draft_id, request_id)
        if request.status is CardRequestStatus.ANSWERED:
            target = _done_target(request)
            if page.request.headers.get("HX-Request"):
                return Response(status_code=200, headers={"HX-Redirect": target})
            return page.redirect(target)
        return page.render(
            "eapply/_card_status.html",
            card_request=request,
            draft_id=draft_id,
            poll=POLL_SECONDS,
            live=request.live(eapply.clock.now()),
            **_context(page, eapply),
        )

    @router.get("/applications/{application_id}", tags=["portal"], include_in_schema=False)
    def notice_link(page: PageDep, application_id: str) -> Response:
        """A notice's link to an application (``/applications/<id>``): its page here."""
        return page.redirect(f"/services/applications/{quote(application_id[:64], safe='')}")

    @router.get("/services/{service_id}", response_class=HTMLResponse, tags=["portal"])
    def service_page(page: PageDep, service_id: str) -> Response:
        """One service: what it is, who receives it, what it needs, and where to start."""
        eapply = eapply_of(page.request)
        service = eapply.catalogue.service(service_id)
        return page.render("eapply/service.html", service=service, **_context(page, eapply))

    @router.post("/services/{service_id}/drafts", tags=["portal"])
    def start(
        page: PageDep, service_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """Start an application for the service (a draft only the person sees)."""
        session = page.require_csrf(csrf_token)
        eapply = eapply_of(page.request)
        service: Service = eapply.catalogue.service(service_id)
        draft = eapply.drafts.start(session.account_id, service.service_id)
        return page.redirect(f"/services/drafts/{draft.draft_id}")

    return [*card_routes(wallet=wallet), *router.routes]


def _is_number_input(form: Any, key: str) -> bool:
    for section in form.sections:
        for f in section.fields:
            if f.type == "individual_number" and key == field_key(section.id, f.name):
                return True
    return False
