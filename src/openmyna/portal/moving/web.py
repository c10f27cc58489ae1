"""The person's pages of the moving one-stop, under ``/moving``.

``/moving`` lists the person's move-out notices (転出届, sent through the e-applications) and
where each stands: waiting for the municipality they leave, recorded (the destination was
told of the planned move-in), moved in. For a recorded one, ``/moving/{move_id}`` books a
counter visit at the destination (来庁予約): pick a day the counter is open within the
special move-in's window, then a slot with places left; see the booking; cancel it. Every
form is a POST with the session's CSRF token; a move of another person is 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.clock import JST
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.portal.backoffice.service import municipality_name
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.portal.moving.service import MovingOneStop
from openmyna.portal.pages import Page, PageDep, PageRoute, portal_of

PREFIX = "/moving"
Csrf = Annotated[str | None, Form()]


def moving_of(request: Request) -> MovingOneStop:
    """The moving one-stop of the app's portal."""
    return portal_of(request).moving


def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _start(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("a slot is a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


def routes() -> list[BaseRoute]:
    """The person's moving pages."""
    router = APIRouter(prefix=PREFIX, route_class=PageRoute)

    @router.get("", response_class=HTMLResponse, tags=["portal"])
    def my_moves(page: PageDep) -> Response:
        """引越し: the person's move-out notices and their move-ins."""
        session = page.require_login()
        moving = moving_of(page.request)
        return page.render(
            "moving/index.html",
            moves=moving.my_moves(session.account_id),
            municipality_name=municipality_name,
            decided=ApplicationStatus,
        )

    def booking_page(
        page: Page,
        move_id: str,
        *,
        day: dt.date | None = None,
        error: OpenMynaError | None = None,
        done: str | None = None,
    ) -> Response:
        session = page.require_login()
        moving = moving_of(page.request)
        mine = moving.my_move(session.account_id, move_id)
        assert mine.planned is not None
        days = moving.days(mine.planned)
        chosen = day if day in days else (days[0] if days else None)
        return page.render(
            "moving/move.html",
            status=error.http_status if error is not None else 200,
            mine=mine,
            move=mine.planned,
            to_name=municipality_name(mine.planned.to_lg_code),
            from_name=municipality_name(mine.planned.from_lg_code),
            days=days,
            day=chosen,
            slots=moving.slots(mine.planned, chosen) if chosen else [],
            error=error,
            done=done if done in ("booked", "cancelled") else None,
        )

    @router.get("/{move_id}", response_class=HTMLResponse, tags=["portal"])
    def move_page(
        page: PageDep, move_id: str, day: str | None = None, done: str | None = None
    ) -> Response:
        """A planned move-in: its visit booked at the destination, or the slots to book one."""
        return booking_page(page, move_id, day=_day(day), done=done)

    @router.post("/{move_id}/visit", response_class=HTMLResponse, include_in_schema=False)
    def book(
        page: PageDep,
        move_id: str,
        starts_at: Annotated[str, Form(max_length=40)] = "",
        csrf_token: Csrf = None,
    ) -> Response:
        """Book the chosen slot (来庁予約)."""
        session = page.require_csrf(csrf_token)
        moving = moving_of(page.request)
        try:
            moment = _start(starts_at)
            moving.book_visit(session.account_id, move_id, moment)
        except OpenMynaError as exc:
            if exc.http_status == 404:
                raise
            return booking_page(page, move_id, day=_day(starts_at), error=exc)
        return page.redirect(f"{PREFIX}/{move_id}?done=booked")

    @router.post("/{move_id}/visit/cancel", include_in_schema=False)
    def cancel(page: PageDep, move_id: str, csrf_token: Csrf = None) -> Response:
        """Cancel the booked visit."""
        session = page.require_csrf(csrf_token)
        moving_of(page.request).cancel_visit(session.account_id, move_id)
        return page.redirect(f"{PREFIX}/{move_id}?done=cancelled")

    @router.get("/{move_id}/{form:path}", include_in_schema=False)
    def again(page: PageDep, move_id: str, form: str) -> Response:
        """The move's page, after one of its forms (a reload, the language switch)."""
        page.require_login()
        return page.redirect(f"{PREFIX}/{move_id}")

    return list(router.routes)
