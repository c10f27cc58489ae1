"""The statistics pages: ``/statistics`` (no login) and a CSV file for each table.

``GET /statistics`` shows every table with its chart; ``?period=YYYY-MM`` narrows the
exchanges per item and per procedure to one of the twelve months counted.
``GET /statistics/<table>.csv`` is one table as CSV (UTF-8 with a byte order mark, so that
spreadsheets read the Japanese right), in the reader's language, as the page shows it.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from openmyna.errors import InvalidInput, NotFound
from openmyna.portal.i18n import format_month
from openmyna.portal.pages import Page, PageDep, PageRoute
from openmyna.portal.statistics.charts import bar_chart
from openmyna.portal.statistics.figures import Month
from openmyna.portal.statistics.reference import reference
from openmyna.portal.statistics.tables import (
    Column,
    StatisticsView,
    StatTable,
    build_view,
    cell_text,
    say,
    to_csv,
)

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class UnknownPeriod(InvalidInput):
    """A period that is not one of the months counted."""


class UnknownTable(NotFound):
    """No statistics table of that name."""


def _period(view_months: tuple[Month, ...], period: str | None) -> Month | None:
    if not period:
        return None
    found = _PERIOD.fullmatch(period[:8])
    chosen = (int(found[1]), int(found[2])) if found else None
    if chosen not in view_months:
        raise UnknownPeriod("the period is one of the last twelve months, as YYYY-MM")
    return chosen


def view_of(page: Page, period: str | None) -> StatisticsView:
    """The page's tables, from the figures the portal holds (counted at most every ttl)."""
    stats = page.portal.statistics
    figures = stats.figures()
    chosen = _period(figures.months, period)
    return build_view(reference(), figures, threshold=stats.min_count, period=chosen)


def _groups(columns: tuple[Column, ...], language: str) -> list[tuple[str | None, int]]:
    """Consecutive columns of one group, for the table's first heading row."""
    out: list[tuple[str | None, int]] = []
    for c in columns:
        label = None if c.group is None else say(c.group, language)
        if out and label is not None and out[-1][0] == label:
            out[-1] = (label, out[-1][1] + 1)
        else:
            out.append((label, 1))
    return out


def routes() -> list[BaseRoute]:
    """The statistics routes (public: no login)."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/statistics", response_class=HTMLResponse, tags=["portal"])
    def statistics(page: PageDep, period: str | None = None) -> Response:
        """統計: cards issued and exchanges, the government's 2018 tables beside (no login)."""
        view = view_of(page, period)
        language = page.language
        return page.render(
            "statistics/index.html",
            view=view,
            say=lambda text: say(text, language),
            cell=lambda value: cell_text(value, language),
            chart=lambda table: bar_chart(table, language),
            groups=lambda table: _groups(table.columns, language),
            month=lambda year, month: format_month(year, month, language),
        )

    @router.get("/statistics/{slug}.csv", tags=["portal"])
    def download(page: PageDep, slug: str, period: str | None = None) -> Response:
        """One statistics table as CSV (UTF-8 with a byte order mark)."""
        table: StatTable | None = view_of(page, period).table(slug)
        if table is None:
            raise UnknownTable("no statistics table of that name")
        return Response(
            to_csv(table, page.language).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="openmyna-{table.slug}.csv"',
            },
        )

    return list(router.routes)
