"""Bar charts drawn on the server as SVG: no script, no chart library, nothing fetched.

``bar_chart`` draws a table's chart (``StatTable.chart``): one group of horizontal bars per
row (totals left out), one bar per value column, each with its value written after it, so
that neither the colour nor the length alone carries a figure. The SVG is an image with a
``<title>`` and a ``<desc>`` (``role="img"``, ``aria-labelledby``); the table beside it is its
accessible equivalent, with every value. Labels sit above their bars, so the chart stays
readable when a phone scales it to its width. A suppressed count (``X``) has no bar.
"""

from __future__ import annotations

import unicodedata

from markupsafe import Markup

from openmyna.portal.nav import N_
from openmyna.portal.statistics.tables import (
    StatTable,
    cell_text,
    chart_value,
    say,
    t,
)

WIDTH = 340  # drawn at this size; a phone narrower than that scales it down a little
BAR_SPACE = 240  # the longest bar; the rest of the width is for its value
LABEL_SIZE = 14
VALUE_SIZE = 13
BAR = 15
GAP = 4
GROUP_GAP = 12
LINE = 20
#: Bar colours (contrast on white: 8.3 and 4.6, above the 3:1 graphics need), in order.
COLOURS = ("#0b4f9c", "#c05600", "#1d6b36")
INK = "#1a1a1a"


def _width(text: str, size: int) -> float:
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return wide * size + (len(text) - wide) * size * 0.6


def _fit(text: str, size: int, room: float) -> str:
    if _width(text, size) <= room:
        return text
    while text and _width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def bar_chart(table: StatTable, language: str) -> Markup:
    """The table's bar chart as inline SVG (empty when it has none or nothing to draw)."""
    spec = table.chart
    if spec is None:
        return Markup("")
    rows = [r for r in table.rows if not r.total]
    values = [[chart_value(r.cells[i]) for i in spec.values] for r in rows]
    if not rows:
        return Markup("")
    top = max((v for vs in values for v in vs if v is not None), default=0.0)
    series = [say(table.columns[i].label, language) for i in spec.values]
    groups = [table.columns[i].group for i in spec.values]
    if any(g is not None for g in groups):
        series = [
            f"{say(g, language)} {s}" if g is not None else s
            for g, s in zip(groups, series, strict=True)
        ]
    ident = f"chart-{table.slug}"
    title = say(table.title, language)
    joined = ("・" if language == "ja" else ", ").join(series)
    desc = say(
        t(N_("%(series)sの横棒グラフです。数値は下の表にあります。"), series=joined), language
    )
    parts: list[Markup] = []
    y = 0.0
    if len(series) > 1:  # the legend, one line each
        for n, name in enumerate(series):
            y += LINE
            parts.append(
                Markup(
                    '<rect x="0" y="{y}" width="13" height="13" fill="{fill}"/>'
                    '<text x="18" y="{ty}" font-size="{size}" fill="{ink}">{name}</text>'
                ).format(
                    y=f"{y - 12:.0f}",
                    fill=COLOURS[n],
                    ty=f"{y:.0f}",
                    size=VALUE_SIZE,
                    ink=INK,
                    name=_fit(name, VALUE_SIZE, WIDTH - 18),
                )
            )
        y += GAP
    for row, vals in zip(rows, values, strict=True):
        label = cell_text(row.cells[spec.label], language)
        y += LINE
        parts.append(
            Markup('<text x="0" y="{y}" font-size="{size}" fill="{ink}">{label}</text>').format(
                y=f"{y - 4:.0f}", size=LABEL_SIZE, ink=INK, label=_fit(label, LABEL_SIZE, WIDTH)
            )
        )
        for n, (col, v) in enumerate(zip(spec.values, vals, strict=True)):
            length = 0.0 if v is None or top <= 0 else max(BAR_SPACE * v / top, 1.0 if v else 0.0)
            if length:
                parts.append(
                    Markup('<rect x="0" y="{y}" width="{w}" height="{h}" fill="{fill}"/>').format(
                        y=f"{y:.0f}", w=f"{length:.1f}", h=BAR, fill=COLOURS[n]
                    )
                )
            parts.append(
                Markup(
                    '<text x="{x}" y="{y}" font-size="{size}" fill="{ink}">{value}</text>'
                ).format(
                    x=f"{length + 4:.1f}",
                    y=f"{y + BAR - 2:.0f}",
                    size=VALUE_SIZE,
                    ink=INK,
                    value=cell_text(row.cells[col], language),
                )
            )
            y += BAR + GAP
        y += GROUP_GAP - GAP
    height = f"{y + 4:.0f}"
    return Markup(
        '<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        'height="{height}" aria-labelledby="{ident}-title {ident}-desc" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<title id="{ident}-title">{title}</title><desc id="{ident}-desc">{desc}</desc>'
        "{body}</svg>"
    ).format(
        width=WIDTH,
        height=height,
        ident=ident,
        title=title,
        desc=desc,
        body=Markup("").join(parts),
    )
