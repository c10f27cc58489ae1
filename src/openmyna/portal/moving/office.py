"""The staff's pages of the moving one-stop, under ``/backoffice/moves``.

- ``/backoffice/moves``: at each municipality the member works for, the move-out notices
  waiting (A's side) and the planned move-ins it was told of, with their visit bookings
  (B's side);
- ``/backoffice/moves/{application_id}``: a signed move-out notice (the generic inbox links
  applications of form ``move-out-notice`` here): review it, record the planned move-out;
- ``/backoffice/moves/arrivals/{move_id}``: a planned move-in: the visit, the origin's
  move-out certificate data, and the move-in (転入届の特例).

The service checks the staff register for the municipality of the notice or of the move;
one of another municipality is 404. Every form is a POST with the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.errors import OpenMynaError
from openmyna.portal.backoffice.service import municipality_name
from openmyna.portal.backoffice.web import (
    BackOfficeRoute,
    Csrf,
    Documents,
    _context,
    _documents,
)
from openmyna.portal.eapply.forms import masked_numbers
from openmyna.portal.eapply.web import _context as eapply_context
from openmyna.portal.errors import CsrfRefused, LoginRequired
from openmyna.portal.moving.service import MovingOneStop
from openmyna.portal.pages import Page, PageDep, portal_of

PREFIX = "/backoffice/moves"


def moving_of(request: Request) -> MovingOneStop:
    """The moving one-stop of the app's portal."""
    return portal_of(request).moving


def routes() -> list[BaseRoute]:
    """The staff's moving pages (before the back office's ``/backoffice/{lg_code}``)."""
    router = APIRouter(prefix=PREFIX, route_class=BackOfficeRoute)

    @router.get("", response_class=HTMLResponse, tags=["backoffice"])
    def moves(page: PageDep) -> Response:
        """引越し: notices waiting and planned move-ins, at each municipality one works for."""
        session = page.require_login()
        moving = moving_of(page.request)
        waiting = {m.lg_code: apps for m, apps in moving.waiting_notices(session)}
        expected = moving.expected(session)
        return page.render(
            "moving/office_moves.html",
            desks=[
                (m, municipality_name(m.lg_code), waiting.get(m.lg_code, []), e)
                for m, e in expected
            ],
            municipality_name=municipality_name,
        )

    # --- B: a planned move-in ----------------------------------------------------------------

    def arrival_page(page: Page, move_id: str, *, error: OpenMynaError | None = None) -> Response:
        session = page.require_login()
        moving = moving_of(page.request)
        found = moving.arrival(session, move_id)
        return page.render(
            "moving/office_arrival.html",
            status=error.http_status if error is not None else 200,
            **_context(found.member),
            arrival=found,
            today=moving.clock.today(),
            error=error,
        )

    @router.get("/arrivals/{move_id}", response_class=HTMLResponse, include_in_schema=False)
    def arrival(page: PageDep, move_id: str) -> Response:
        """A planned move-in: the visit, the origin's certificate data, the move-in form."""
        return arrival_page(page, move_id)

    @router.post("/arrivals/{move_id}/move-in", include_in_schema=False)
    def move_in(
        page: PageDep,
        move_id: str,
        on: Annotated[dt.date, Form()],
        address: Annotated[str, Form(max_length=200)],
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """転入届の特例: the move-in registered with the origin's move-out, no certificate."""
        session = page.require_csrf(csrf_token)
        moving = moving_of(page.request)
        try:
            moved = moving.complete_move_in(
                session, move_id, on=on, address=address, documents=_documents(documents)
            )
        except (LoginRequired, CsrfRefused):
            raise
        except OpenMynaError as exc:
            if exc.http_status in (403, 404):
                raise
            return arrival_page(page, move_id, error=exc)
        move = moving.book.planned(move_id)
        assert move is not None
        return page.redirect(
            f"/backoffice/{move.to_lg_code}/residents/{moved.handle}?done=moved_in"
        )

    @router.get("/arrivals/{move_id}/{form:path}", include_in_schema=False)
    def arrival_again(page: PageDep, move_id: str, form: str) -> Response:
        """The planned move-in's page, after its form."""
        page.require_login()
        return page.redirect(f"{PREFIX}/arrivals/{move_id}")

    # --- A: a move-out notice ------------------------------------------------------------------

    def notice_page(
        page: Page, application_id: str, *, error: OpenMynaError | None = None, **extra: Any
    ) -> Response:
        session = page.require_login()
        moving = moving_of(page.request)
        review = moving.review(session, application_id)
        eapply = portal_of(page.request).eapply
        service = eapply.catalogue.service(review.application.service_id)
        answers = review.application.answers()
        return page.render(
            "moving/office_notice.html",
            status=error.http_status if error is not None else 200,
            **eapply_context(page, eapply),
            **_context(review.member),
            review=review,
            form=service.form,
            answers=answers,
            masked=masked_numbers(service.form, answers),
            error=error,
            **extra,
        )

    @router.get("/{application_id}", response_class=HTMLResponse, include_in_schema=False)
    def notice(page: PageDep, application_id: str, done: str | None = None) -> Response:
        """A signed move-out notice: the answers, the signer's record, record the move-out."""
        return notice_page(page, application_id, done=done == "recorded")

    @router.post("/{application_id}/record", include_in_schema=False)
    def record(page: PageDep, application_id: str, csrf_token: Csrf = None) -> Response:
        """Record the planned move-out in the registry; the notice is approved."""
        session = page.require_csrf(csrf_token)
        try:
            moving_of(page.request).record_move_out(session, application_id)
        except (LoginRequired, CsrfRefused):
            raise
        except OpenMynaError as exc:
            if exc.http_status in (403, 404):
                raise
            return notice_page(page, application_id, error=exc)
        return page.redirect(f"{PREFIX}/{application_id}?done=recorded")

    @router.get("/{application_id}/{form:path}", include_in_schema=False)
    def notice_again(page: PageDep, application_id: str, form: str) -> Response:
        """The notice's page, after its form."""
        page.require_login()
        return page.redirect(f"{PREFIX}/{application_id}")

    return list(router.routes)
