"""The back office's e-application pages, under ``/backoffice/{lg_code}/applications``.

- ``GET …/applications``: the inbox (filter by status and form, paged);
- ``GET …/applications/{id}``: one application: the signed data, the signature verified
  again, the status history, and the steps the member's role allows;
- ``POST …/{id}/receive``: 受付 (clerk or above);
- ``POST …/{id}/decide``: 決定 or 却下 with its reason (supervisor or above), and the notice;
- ``POST …/{id}/local-tax``: a child-allowance claimant's local tax over the network, shown
  on the application's page (not kept: asked again, it is another recorded exchange).

Every step is checked and logged by ``ApplicationDesk``; every form carries the session's
CSRF token. A step refused for a reason staff can fix (no reason given for a rejection, no
damage grade) shows the application's page again with the reason; another municipality's
application is the error page with 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.errors import OpenMynaError
from openmyna.portal.backoffice import child_allowance, disaster
from openmyna.portal.backoffice.applications import (
    MOVE_OUT_FORM,
    ApplicationDesk,
    TaxLookup,
)
from openmyna.portal.backoffice.staff import Permission
from openmyna.portal.backoffice.web import PREFIX, BackOfficeRoute, _context, _member
from openmyna.portal.eapply.forms import field_key
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.portal.eapply.web import as_date
from openmyna.portal.eapply.web import municipality_name as any_municipality
from openmyna.portal.errors import CsrfRefused, LoginRequired
from openmyna.portal.pages import Page, PageDep

Csrf = Annotated[str | None, Form()]
Note = Annotated[str, Form(max_length=2000)]
#: What a ``done`` query parameter may say.
DONE = frozenset({"received", "approved", "rejected"})


def desk_of(request: Request) -> ApplicationDesk:
    """The back office's e-applications (``app.state.application_desk``)."""
    found: ApplicationDesk = request.app.state.application_desk
    return found


def _base(page: Page, desk: ApplicationDesk, lg_code: str) -> dict[str, Any]:
    _, member = _member(page, lg_code)
    return {
        **_context(member),
        "lang": page.language,
        "forms": desk.eapply.catalogue.forms,
        "statuses": list(ApplicationStatus),
        "field_key": field_key,
        "as_date": as_date,
        "municipality_name": any_municipality,
    }


def routes() -> list[BaseRoute]:
    """The e-application pages of the back office."""
    router = APIRouter(prefix=PREFIX, route_class=BackOfficeRoute)

    @router.get("/{lg_code}/applications", response_class=HTMLResponse, include_in_schema=False)
    def inbox(
        page: PageDep,
        lg_code: str,
        status: str = "",
        form: str = "",
        p: int = 1,
    ) -> Response:
        """The municipality's e-applications: the work queue, oldest first."""
        session = page.require_login()
        desk = desk_of(page.request)
        found = desk.inbox(
            session, lg_code, status=status[:20] or None, form_id=form[:64] or None, page=p
        )
        return page.render(
            "backoffice/applications.html", **_base(page, desk, lg_code), inbox=found
        )

    def application_page(
        page: Page,
        lg_code: str,
        application_id: str,
        *,
        error: OpenMynaError | None = None,
        done: str | None = None,
        tax: TaxLookup | None = None,
        **extra: Any,
    ) -> Response:
        session = page.require_login()
        desk = desk_of(page.request)
        file = desk.open(session, lg_code, application_id)
        return page.render(
            "backoffice/application.html",
            status=error.http_status if error is not None else 200,
            **_base(page, desk, lg_code),
            file=file,
            application=file.application,
            form=file.service.form,
            error=error,
            done=done if done in DONE else None,
            tax=tax,
            grades=disaster.GRADES,
            child_allowance_form=child_allowance.FORM_ID,
            disaster_form=disaster.FORM_ID,
            move_out_form=MOVE_OUT_FORM,
            **extra,
        )

    @router.get(
        "/{lg_code}/applications/{application_id}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def application(
        page: PageDep, lg_code: str, application_id: str, done: str | None = None
    ) -> Response:
        """One application: the signed data, its signature, its history and its steps."""
        return application_page(page, lg_code, application_id, done=done)

    def step(
        page: Page,
        lg_code: str,
        application_id: str,
        csrf_token: str | None,
        run: Any,
        done: Any,
        **kept: Any,
    ) -> Response:
        session = page.require_csrf(csrf_token)
        desk = desk_of(page.request)
        try:
            result = run(desk, session)
        except (LoginRequired, CsrfRefused):
            raise
        except OpenMynaError as exc:
            if exc.http_status in (403, 404):
                raise  # not the clerk's to fix: the error page
            return application_page(page, lg_code, application_id, error=exc, **kept)
        target = f"{PREFIX}/{lg_code}/applications/{application_id[:32]}?done={done(result)}"
        return page.redirect(target)

    @router.post("/{lg_code}/applications/{application_id}/receive", include_in_schema=False)
    def receive(
        page: PageDep,
        lg_code: str,
        application_id: str,
        note: Note = "",
        csrf_token: Csrf = None,
    ) -> Response:
        """受付: the receipt of the application."""
        return step(
            page,
            lg_code,
            application_id,
            csrf_token,
            lambda desk, session: desk.receive(session, lg_code, application_id, note=note),
            lambda _a: "received",
        )

    @router.post("/{lg_code}/applications/{application_id}/decide", include_in_schema=False)
    def decide(
        page: PageDep,
        lg_code: str,
        application_id: str,
        outcome: Annotated[str, Form(max_length=16)] = "",
        reason: Note = "",
        damage_grade: Annotated[str, Form(max_length=32)] = "",
        csrf_token: Csrf = None,
    ) -> Response:
        """決定 (approve) or 却下 (reject, with its reason), and the notice to the applicant."""
        return step(
            page,
            lg_code,
            application_id,
            csrf_token,
            lambda desk, session: desk.decide(
                session,
                lg_code,
                application_id,
                outcome=outcome,
                reason=reason,
                damage_grade=damage_grade or None,
            ),
            lambda d: d.application.status.value,
            kept_reason=reason,
            kept_outcome=outcome,
        )

    @router.post(
        "/{lg_code}/applications/{application_id}/local-tax",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def local_tax(
        page: PageDep, lg_code: str, application_id: str, csrf_token: Csrf = None
    ) -> Response:
        """The child-allowance claimant's local tax, from the municipality of 1 January."""
        session = page.require_csrf(csrf_token)
        desk = desk_of(page.request)
        try:
            found = desk.lookup_local_tax(session, lg_code, application_id)
        except OpenMynaError as exc:
            if exc.http_status in (403, 404):
                raise
            return application_page(page, lg_code, application_id, error=exc)
        return application_page(page, lg_code, application_id, tax=found)

    @router.get("/{lg_code}/applications/{application_id}/{form:path}", include_in_schema=False)
    def application_again(page: PageDep, lg_code: str, application_id: str, form: str) -> Response:
        """The application's page, after one of its forms (a reload, the language switch)."""
        session = page.require_login()
        desk_of(page.request).backoffice.require(session, lg_code, Permission.READ_RESIDENTS)
        return page.redirect(f"{PREFIX}/{lg_code}/applications/{application_id[:32]}")

    return list(router.routes)
