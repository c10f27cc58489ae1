"""The person's notice pages: the list, one notice (read when opened), the forwarding setting.

Every page asks ``Notices`` with the session's account id, and ``Notices`` finds that
account's own code: a notice of another person is the same 404 as one that never existed,
so ids say nothing.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.portal.notices.content import CATEGORIES, link_label
from openmyna.portal.notices.errors import NoticeNotFound
from openmyna.portal.pages import PageDep, PageRoute

_NOTICE_ID = re.compile(r"^[0-9a-f]{32}$")
#: The form's value for "do not forward".
OFF = "off"


def routes() -> list[BaseRoute]:
    """The routes of ``/notices`` (the portal is ``app.state.portal``)."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/notices", response_class=HTMLResponse, tags=["portal"])
    def notice_list(
        page: PageDep, shown: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1
    ) -> Response:
        """お知らせ: notices from agencies to the person, newest first."""
        session = page.require_login()
        notices = page.portal.notices
        return page.render(
            "notices/list.html",
            listing=notices.page(session.account_id, shown),
            setting=notices.delivery_setting(session.account_id),
            categories=CATEGORIES,
        )

    @router.get("/notices/delivery", response_class=HTMLResponse, tags=["portal"])
    def delivery(page: PageDep, saved: bool = False) -> Response:
        """Forwarding notices to a private delivery service (民間送達): the setting."""
        session = page.require_login()
        notices = page.portal.notices
        return page.render(
            "notices/delivery.html",
            setting=notices.delivery_setting(session.account_id),
            services=list(notices.services.values()),
            saved=saved,
            off=OFF,
        )

    @router.post("/notices/delivery", tags=["portal"], include_in_schema=False)
    def change_delivery(
        page: PageDep,
        csrf_token: Annotated[str | None, Form()] = None,
        service: Annotated[str | None, Form(max_length=40)] = None,
    ) -> Response:
        """Turn forwarding off, or on to one of the installation's services."""
        session = page.require_csrf(csrf_token)
        notices = page.portal.notices
        if service is None or service == OFF:
            notices.set_delivery(session.account_id, enabled=False)
        else:
            notices.set_delivery(session.account_id, enabled=True, service_id=service)
        return page.redirect("/notices/delivery?saved=true")

    @router.get("/notices/{notice_id}", response_class=HTMLResponse, tags=["portal"])
    def notice(page: PageDep, notice_id: str) -> Response:
        """One notice (opening it marks it read)."""
        session = page.require_login()
        notices = page.portal.notices
        try:
            if not _NOTICE_ID.match(notice_id):
                raise NoticeNotFound("no such notice")
            found = notices.open(session.account_id, notice_id)
        except NoticeNotFound:
            return page.render("notices/missing.html", status=404)
        delivered = notices.deliveries(session.account_id, [found.notice_id])
        return page.render(
            "notices/notice.html",
            notice=found,
            category=CATEGORIES.get(found.category, found.category),
            link_label=link_label(found.link),
            delivery=delivered.get(found.notice_id),
        )

    return list(router.routes)
