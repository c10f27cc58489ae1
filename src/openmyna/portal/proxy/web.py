"""The /proxy page (代理人) and its forms.

For the person acting as themselves the page has two halves:

- **as a principal** (委任者): make a grant (how they name the proxy, how the proxy sees
  them, the scopes, the last day), get its one-time invitation code, see their grants and
  revoke any, and read the proxy log: everything proxies did for them;
- **as a proxy** (代理人): redeem an invitation code, see the grants they hold, and start
  acting for a principal under one.

While acting for someone only the page itself and "act as myself" (``/proxy/stop``) are
open (``scopes``); every form is also refused by the service (``ProxyNotAllowed``).
Every change is a POST with the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.portal.pages import Page, PageDep, PageRoute
from openmyna.portal.proxy.errors import GrantInvalid, InvitationInvalid
from openmyna.portal.proxy.scopes import SCOPE_LABELS, Scope
from openmyna.portal.proxy.service import INVITATION_TTL, LABEL_MAX, GrantStatus

CODE_MAX = 40


def _page(page: Page, *, status: int = 200, **extra: Any) -> HTMLResponse:
    session = page.require_login()
    proxies = page.portal.proxies
    own = session.own_account_id
    acting = session.acting is not None
    given = [] if acting else proxies.given(own)
    return page.render(
        "proxy/proxy.html",
        status=status,
        acting=acting,
        given=given,
        held=proxies.held(own),
        log=[] if acting else proxies.log_for(own),
        labels={g.grant_id: g.proxy_label for g in given},
        scope_labels=SCOPE_LABELS,
        scopes=list(Scope),
        statuses=GrantStatus,
        today=page.portal.clock.today(),
        last_allowed=proxies.last_day_allowed(),
        label_max=LABEL_MAX,
        **extra,
    )


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise GrantInvalid("the last day is not a date", field="day") from None


def routes() -> list[BaseRoute]:
    """The proxy page and its forms."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/proxy", response_class=HTMLResponse, tags=["portal"])
    def proxy_page(page: PageDep) -> Response:
        """代理人: grants made and held, the proxy log, acting for someone."""
        return _page(page)

    @router.post("/proxy/grants", response_class=HTMLResponse, tags=["portal"])
    def create_grant(
        page: PageDep,
        proxy_label: Annotated[str, Form(max_length=200)] = "",
        principal_label: Annotated[str, Form(max_length=200)] = "",
        last_day: Annotated[str, Form(max_length=20)] = "",
        scopes: Annotated[list[str] | None, Form(max_length=20)] = None,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Make a grant; the page shows its invitation code once."""
        session = page.require_csrf(csrf_token)
        try:
            grant, code = page.portal.proxies.create(
                session,
                proxy_label=proxy_label,
                principal_label=principal_label,
                scopes=list(scopes or [])[:10],
                last_day=_day(last_day),
            )
        except GrantInvalid as exc:
            return _page(page, status=400, grant_error=exc.context.get("field", "form"))
        return _page(
            page, invitation=code, invited=grant, ttl_hours=INVITATION_TTL // dt.timedelta(hours=1)
        )

    @router.post("/proxy/grants/{grant_id}/revoke", tags=["portal"], include_in_schema=False)
    def revoke_grant(
        page: PageDep, grant_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """Revoke one of the principal's grants."""
        session = page.require_csrf(csrf_token)
        page.portal.proxies.revoke(session, grant_id[:32])
        return page.redirect("/proxy")

    @router.post("/proxy/redeem", response_class=HTMLResponse, tags=["portal"])
    def redeem(
        page: PageDep,
        code: Annotated[str, Form(max_length=CODE_MAX)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Redeem an invitation code (the proxy, logged in with their own card)."""
        session = page.require_csrf(csrf_token)
        try:
            page.portal.proxies.redeem(session, code)
        except InvitationInvalid:
            return _page(page, status=409, redeem_error=True)
        return page.redirect("/proxy")

    @router.post("/proxy/act", tags=["portal"], include_in_schema=False)
    def act(
        page: PageDep,
        grant_id: Annotated[str, Form(max_length=32)],
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Start acting for the grant's principal."""
        session = page.require_csrf(csrf_token)
        page.portal.proxies.act(session, grant_id)
        return page.redirect("/")

    @router.post("/proxy/stop", tags=["portal"], include_in_schema=False)
    def stop(page: PageDep, csrf_token: Annotated[str | None, Form()] = None) -> Response:
        """Act as oneself again."""
        session = page.require_csrf(csrf_token)
        page.portal.proxies.stop(session)
        return page.redirect("/proxy")

    return list(router.routes)
