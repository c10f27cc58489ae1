"""アカウント: the person's own account page — login history, sessions, language.

- **Login history**: every login, logout, ended session and linked certificate of the account
  (``Accounts.history``), newest first, in Japan time.
- **Sessions**: the account's live sessions with the browser each came from; the person may
  end any of them (another device left logged in), the current one included.
- **Language**: the account's language (``ja`` / ``en``), used for what the portal sends when
  no page is open (notices forwarded by mail or webhook); the pages follow the switch.

Every change is a POST with the session's CSRF token, and acts only on the logged-in
account (a session id of another account ends nothing).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.portal.i18n import LANGUAGE_NAMES, checked_language
from openmyna.portal.pages import PageDep, PageRoute
from openmyna.portal.sessions import EndReason

#: How many rows of the login history the page shows.
HISTORY_ROWS = 50


def routes() -> list[BaseRoute]:
    """The account page and its forms."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/account", response_class=HTMLResponse, tags=["portal"])
    def account_page(page: PageDep) -> Response:
        """The logged-in person's account: login history, sessions, language."""
        session = page.require_login()
        portal = page.portal
        account = portal.accounts.get(session.account_id)
        return page.render(
            "account/account.html",
            account=account,
            history=portal.accounts.history(account.account_id, limit=HISTORY_ROWS),
            live=portal.sessions.live(account.account_id),
            current=session.session_id,
            language_names=LANGUAGE_NAMES,
        )

    @router.post("/account/sessions/end", tags=["portal"], include_in_schema=False)
    def end_session(
        page: PageDep,
        session_id: Annotated[str, Form(max_length=64)],
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """End one of the person's own sessions."""
        session = page.require_csrf(csrf_token)
        portal = page.portal
        if portal.sessions.end_for_account(session.account_id, session_id, EndReason.ENDED_BY_USER):
            with portal.store.transaction() as s:
                portal.accounts.record(
                    s, session.account_id, "session_ended", session_id=session_id, detail="by user"
                )
        return page.redirect("/" if session_id == session.session_id else "/account")

    @router.post("/account/language", tags=["portal"], include_in_schema=False)
    def set_language(
        page: PageDep,
        language: Annotated[str, Form(max_length=8)],
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Set the account's language."""
        session = page.require_csrf(csrf_token)
        page.portal.accounts.set_language(session.account_id, checked_language(language))
        return page.redirect("/account")

    return list(router.routes)
