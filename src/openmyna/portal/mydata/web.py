"""The pages of 自己情報 (P3): the items the person may see, an agency to ask, the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.portal.i18n import translations
from openmyna.portal.mydata.service import InvalidOwnRequest, OwnInformation, describe
from openmyna.portal.pages import PageDep, PageRoute


def routes() -> list[BaseRoute]:
    """The own-information pages."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/my-data", response_class=HTMLResponse, tags=["portal"])
    def my_data(page: PageDep, item: str | None = None) -> Response:
        """自己情報: pick an item, then the agency to ask for it."""
        page.require_login()
        own = OwnInformation(page.portal.network)
        if item is None:
            return page.render("mydata/index.html", choices=own.choices(), rules=own.rules)
        try:
            chosen = own.choice(item[:64])
        except InvalidOwnRequest:
            return page.render(
                "mydata/index.html",
                status=400,
                choices=own.choices(),
                rules=own.rules,
                problem="item",
            )
        return page.render("mydata/ask.html", choice=chosen, rules=own.rules)

    @router.post("/my-data", response_class=HTMLResponse, tags=["portal"])
    def fetch(
        page: PageDep,
        item: Annotated[str, Form(max_length=64)] = "",
        agency: Annotated[str, Form(max_length=64)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Ask the agency over the network, under the portal's code; show what it answered."""
        session = page.require_csrf(csrf_token)
        code = page.portal.accounts.get(session.account_id).portal_code
        own = OwnInformation(page.portal.network)
        try:
            fetched = own.fetch(code, item, agency)
        except InvalidOwnRequest as exc:
            field = str(exc.context.get("field") or "")
            if field == "agency":
                return page.render(
                    "mydata/ask.html",
                    status=400,
                    choice=own.choice(item),
                    rules=own.rules,
                    problem="agency",
                )
            return page.render(
                "mydata/index.html",
                status=400,
                choices=own.choices(),
                rules=own.rules,
                problem="item",
            )
        names = page.portal.network.names
        fields = (
            describe(
                fetched.layout, translations(page.language).gettext, page.language, names.agencies
            )
            if fetched.layout is not None
            else []
        )
        return page.render(
            "mydata/result.html",
            fetched=fetched,
            fields=fields,
            item_name=names.items.get(fetched.item, fetched.item),
            agency_name=names.agencies.get(fetched.agency, fetched.agency),
        )

    return list(router.routes)
