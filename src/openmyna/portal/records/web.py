"""The pages of やりとり履歴 (P2): the list with its filters, one record, the exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.routing import BaseRoute

from openmyna.network.errors import RecordNotFound
from openmyna.portal.i18n import translations
from openmyna.portal.pages import Page, PageDep, PageRoute
from openmyna.portal.records.export import to_csv, to_pdf
from openmyna.portal.records.service import (
    CSV_MAX_ROWS,
    PAGE_SIZE,
    PDF_MAX_ROWS,
    ExchangeHistory,
    ExportTooLarge,
    InvalidRecordFilter,
    RecordFilter,
    parse_filter,
    parse_page,
    parse_seq,
    rows_of,
)

_OPTION = Markup('<option value="%s">%s</option>')
_SELECTED = Markup('<option value="%s" selected>%s</option>')


def _options(choices: list[tuple[str, str]], selected: str | None) -> Markup:
    """``<option>`` elements for a filter (built here: 80 of them on every page)."""
    return Markup("").join(
        (_SELECTED if value == selected else _OPTION) % (value, label) for value, label in choices
    )


#: Query parameters are short: a date, an agency id, an item id, a page number.
_MAX_PARAM = 64


def _history(page: Page) -> tuple[ExchangeHistory, str]:
    session = page.require_login()
    code = page.portal.accounts.get(session.account_id).portal_code
    return ExchangeHistory(page.portal.network), code


def _short(value: str | None) -> str | None:
    if value is not None and len(value) > _MAX_PARAM:
        raise InvalidRecordFilter("a filter value is too long")
    return value


def _filter(
    history: ExchangeHistory,
    since: str | None,
    until: str | None,
    agency: str | None,
    item: str | None,
) -> RecordFilter:
    return parse_filter(
        history.names,
        since=_short(since),
        until=_short(until),
        agency=_short(agency),
        item=_short(item),
    )


def _list_page(page: Page, filters: tuple[str | None, ...], shown: str | None) -> Response:
    """The list with its filter form: one page of records, or the form and what is wrong."""
    history, code = _history(page)
    since, until, agency, item = filters
    names = history.names
    items = sorted(names.items.items(), key=lambda kv: kv[1])
    context: dict[str, Any] = {
        "agency_options": _options([(a, names.agencies[a]) for a in history.agencies()], agency),
        "item_options": _options(items, item),
        "limits": {"pdf": PDF_MAX_ROWS, "csv": CSV_MAX_ROWS, "page": PAGE_SIZE},
        "form": {"since": (since or "")[:_MAX_PARAM], "until": (until or "")[:_MAX_PARAM]},
    }
    try:
        chosen = _filter(history, since, until, agency, item)
        listing = history.page(code, chosen, parse_page(_short(shown)))
    except InvalidRecordFilter as exc:
        field = str(exc.context.get("field") or "")
        return page.render("records/list.html", status=400, listing=None, problem=field, **context)
    rows = rows_of(listing.records, names, translations(page.language).gettext)
    return page.render("records/list.html", listing=listing, rows=rows, problem=None, **context)


def routes() -> list[BaseRoute]:
    """The records pages."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/records", response_class=HTMLResponse, tags=["portal"])
    def record_list(
        page: PageDep,
        since: str | None = None,
        until: str | None = None,
        agency: str | None = None,
        item: str | None = None,
        shown: Annotated[str | None, Query(alias="page")] = None,
    ) -> Response:
        """やりとり履歴: who asked whom for which of the person's information, newest first."""
        return _list_page(page, (since, until, agency, item), shown)

    def export(page: Page, kind: str, filters: tuple[str | None, ...]) -> Response:
        history, code = _history(page)
        try:
            chosen = _filter(history, *filters)
        except InvalidRecordFilter:
            return _list_page(page, filters, None)
        cap = CSV_MAX_ROWS if kind == "csv" else PDF_MAX_ROWS
        try:
            records = history.for_export(code, chosen, cap)
        except ExportTooLarge as exc:
            return page.render(
                "records/too_large.html",
                status=exc.http_status,
                kind=kind,
                count=exc.context["records"],
                cap=cap,
                params=chosen.params(),
            )
        gettext = translations(page.language).gettext
        stamp = page.portal.clock.now().strftime("%Y%m%d")
        if kind == "csv":
            body = to_csv(records, history.names, gettext)
            media = "text/csv; charset=utf-8"
        else:
            body = to_pdf(
                records,
                history.names,
                gettext,
                language=page.language,
                chosen=chosen,
                made_at=page.portal.clock.now(),
            )
            media = "application/pdf"
        return Response(
            body,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="exchange-records-{stamp}.{kind}"'
            },
        )

    @router.get("/records/export.csv", tags=["portal"])
    def export_csv(
        page: PageDep,
        since: str | None = None,
        until: str | None = None,
        agency: str | None = None,
        item: str | None = None,
    ) -> Response:
        """The filtered records as CSV (UTF-8 with BOM, CRLF: opens in Excel)."""
        return export(page, "csv", (since, until, agency, item))

    @router.get("/records/export.pdf", tags=["portal"])
    def export_pdf(
        page: PageDep,
        since: str | None = None,
        until: str | None = None,
        agency: str | None = None,
        item: str | None = None,
    ) -> Response:
        """The filtered records as a PDF to print or keep."""
        return export(page, "pdf", (since, until, agency, item))

    @router.get("/records/{seq}", response_class=HTMLResponse, tags=["portal"])
    def record_detail(page: PageDep, seq: str) -> Response:
        """One exchange record: the same "not found" for a missing record and someone else's."""
        history, code = _history(page)
        try:
            record = history.record(code, parse_seq(seq))
        except RecordNotFound:
            return page.render("records/missing.html", status=404)
        [row] = rows_of([record], history.names, translations(page.language).gettext)
        return page.render("records/detail.html", record=row)

    return list(router.routes)
