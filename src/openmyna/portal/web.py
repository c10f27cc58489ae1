"""The portal's routes in the one web app: the home page, the language switch, logout, files.

Each later part of the portal (login, records, own information, notices, applications,
payment, proxy, account, back office, statistics) adds its routes to ``routes`` from its own
module, with ``PageRoute`` and ``PageDep`` (``portal.pages``).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from openmyna.portal.i18n import checked_language
from openmyna.portal.pages import (
    LANGUAGE_COOKIE,
    PageDep,
    PageRoute,
    cookie_secure,
    safe_next,
)
from openmyna.portal.sessions import COOKIE, EndReason

#: A year: the language is a preference, not a secret.
LANGUAGE_MAX_AGE = 365 * 24 * 3600


def routes(*, demo_wallet: bool = False) -> list[BaseRoute]:
    """The portal's routes (the portal itself is ``app.state.portal``); the wallet in the demo."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/", response_class=HTMLResponse, tags=["portal"])
    def home(page: PageDep) -> Response:
        """マイナポータル: the citizen portal's home page (log in with the card)."""
        return page.render("home.html")

    @router.get("/lang/{language}", tags=["portal"], include_in_schema=False)
    def switch_language(page: PageDep, language: str, next: str | None = None) -> Response:
        """Switch the pages' language (Japanese or English) and go back."""
        chosen = checked_language(language)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=LANGUAGE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(page.request, page.portal),
        )
        return response

    @router.post("/logout", tags=["portal"], include_in_schema=False)
    def logout(page: PageDep, csrf_token: Annotated[str | None, Form()] = None) -> Response:
        """Log out: the session ends on the server and its cookie is cleared."""
        session = page.require_csrf(csrf_token)
        portal = page.portal
        portal.sessions.end(session.session_id, EndReason.LOGOUT)
        with portal.store.transaction() as s:
            portal.accounts.record(
                s, session.own_account_id, "logout", session_id=session.session_id
            )
        response = page.redirect("/")
        response.delete_cookie(COOKIE, httponly=True, samesite="lax")
        return response

    from openmyna.portal import account
    from openmyna.portal.backoffice import application_pages as backoffice_applications
    from openmyna.portal.backoffice import web as backoffice
    from openmyna.portal.consents import web as consents
    from openmyna.portal.eapply import web as eapply
    from openmyna.portal.login import web as login
    from openmyna.portal.moving import office as moving_office
    from openmyna.portal.moving import web as moving
    from openmyna.portal.mydata import web as mydata
    from openmyna.portal.notices import web as notices
    from openmyna.portal.payments import pages as payments
    from openmyna.portal.proxy import web as proxy
    from openmyna.portal.records import web as records
    from openmyna.portal.statistics import web as statistics

    static = StaticFiles(directory=str(files("openmyna.portal").joinpath("static")))
    return [
        *router.routes,
        *account.routes(),
        *login.routes(wallet=demo_wallet),
        *payments.routes(),
        *records.routes(),
        *mydata.routes(),
        *notices.routes(),
        *statistics.routes(),
        *eapply.routes(wallet=demo_wallet),
        *moving.routes(),
        *moving_office.routes(),  # before the back office's /backoffice/{lg_code}
        *backoffice_applications.routes(),
        *backoffice.routes(),
        *proxy.routes(),
        *consents.routes(wallet=demo_wallet),
        Mount("/static", app=static, name="static"),
    ]
