"""やりとり履歴 (P2) to take away: CSV for spreadsheets, PDF to print or keep.

CSV is UTF-8 with a byte-order mark and CRLF line ends (RFC 4180), which is what Excel in
Japan needs to open it without garbling; a cell that a spreadsheet would take for a formula
(``= + - @``, tab, CR) is prefixed with an apostrophe (OWASP "CSV injection"). The PDF is
made with fpdf2 and Debian's Noto Sans CJK (``fonts-noto-cjk``), embedded as a subset.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openmyna.errors import Unavailable
from openmyna.network.local import NetworkNames
from openmyna.network.records import ExchangeRecord
from openmyna.portal.i18n import format_date, format_datetime, in_jst
from openmyna.portal.nav import N_
from openmyna.portal.records.service import OUTCOMES, RecordFilter

#: Debian's fonts-noto-cjk: a collection whose first face is Noto Sans CJK JP.
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

#: The export's columns (gettext messages).
COLUMNS = (
    N_("記録番号"),
    N_("日時"),
    N_("照会した機関"),
    N_("提供した機関"),
    N_("事務"),
    N_("特定個人情報の項目"),
    N_("結果"),
)

Translate = Callable[[str], str]


class PdfFontMissing(Unavailable):
    """The Japanese font the PDF needs is not installed (Debian: fonts-noto-cjk)."""

    code = "RECORDS_PDF_FONT_MISSING"


def _row(r: ExchangeRecord, names: NetworkNames, _: Translate) -> list[str]:
    return [
        str(r.seq),
        in_jst(r.recorded_at).isoformat(timespec="seconds"),
        names.agencies.get(r.requester, r.requester),
        names.agencies.get(r.provider, r.provider),
        names.affairs.get(r.affair, r.affair),
        names.items.get(r.item, r.item),
        _(OUTCOMES.get(r.outcome.value, r.outcome.value)),
    ]


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(records: Sequence[ExchangeRecord], names: NetworkNames, _: Translate) -> bytes:
    """The records as CSV: UTF-8 with BOM, CRLF, a header row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_(c) for c in COLUMNS])
    for r in records:
        writer.writerow([_cell(v) for v in _row(r, names, _)])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _period(chosen: RecordFilter, language: str, _: Translate) -> str:
    def day(d: dt.date | None) -> str:
        return format_date(d, language) if d else ""

    if chosen.since is None and chosen.until is None:
        return _("すべての期間")
    return f"{day(chosen.since)} – {day(chosen.until)}"


_TOKEN = re.compile(r"[A-Za-z0-9.,:;()'/+\-]+ *| +|.")


class _Table:
    """Rows of wrapped cells, drawn directly (fpdf2's own table lays out each cell twice:
    20 s for 2,000 rows on this machine; this takes a fraction of that)."""

    PAD = 1.2
    LINE = 3.4

    def __init__(self, pdf: Any, widths: Sequence[float]) -> None:
        self.pdf = pdf
        self.widths = widths
        self._char: dict[str, float] = {}
        self._header: list[str] = []

    def _width(self, text: str) -> float:
        known = self._char.get(text)
        if known is None:
            known = self._char[text] = self.pdf.get_string_width(text)
        return known

    def _wrap(self, text: str, width: float) -> list[str]:
        lines, line, used = [], "", 0.0
        for token in _TOKEN.findall(text):
            w = sum(self._width(ch) for ch in token)
            if line and used + w > width:
                lines.append(line.rstrip())
                line, used = "", 0.0
            if w > width:  # a word longer than the column: break it anywhere
                for ch in token:
                    cw = self._width(ch)
                    if line and used + cw > width:
                        lines.append(line)
                        line, used = "", 0.0
                    line, used = line + ch, used + cw
                continue
            line, used = line + token, used + w
        lines.append(line.rstrip())
        return lines

    def header(self, cells: list[str]) -> None:
        """The heading row (repeated at the top of every page)."""
        self._header = cells
        self._draw(cells, fill=True)

    def row(self, cells: list[str]) -> None:
        """One row; a new page (with the heading) when it does not fit."""
        self._draw(cells, fill=False)

    def _draw(self, cells: list[str], *, fill: bool) -> None:
        pdf = self.pdf
        wrapped = [self._wrap(c, w - 2 * self.PAD) for c, w in zip(cells, self.widths, strict=True)]
        height = max(len(lines) for lines in wrapped) * self.LINE + 2 * self.PAD
        if pdf.get_y() + height > pdf.page_break_trigger and not fill:
            pdf.add_page()
            self._draw(self._header, fill=True)
        x, y = pdf.l_margin, pdf.get_y()
        if fill:
            pdf.set_fill_color(230, 236, 245)
        for lines, width in zip(wrapped, self.widths, strict=True):
            pdf.rect(x, y, width, height, style="DF" if fill else "D")
            for n, line in enumerate(lines):
                pdf.text(x + self.PAD, y + self.PAD + (n + 0.8) * self.LINE, line)
            x += width
        pdf.set_xy(pdf.l_margin, y + height)


def to_pdf(
    records: Sequence[ExchangeRecord],
    names: NetworkNames,
    _: Translate,
    *,
    language: str,
    chosen: RecordFilter,
    made_at: dt.datetime,
    font: Path = NOTO_CJK,
) -> bytes:
    """The records as a printable PDF (A4 landscape), with the filter and when it was made."""
    from fpdf import FPDF

    if not font.is_file():
        raise PdfFontMissing("the Japanese font for PDFs is not installed", font=font.name)
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_title(_("やりとり履歴"))
    pdf.set_creator("openmyna")
    pdf.set_creation_date(made_at)
    pdf.set_lang(language)
    pdf.add_font("NotoSansCJK", fname=str(font), collection_font_number=0)
    pdf.set_auto_page_break(auto=False, margin=12)
    pdf.add_page()
    pdf.set_font("NotoSansCJK", size=16)
    pdf.cell(0, 10, _("やりとり履歴（情報提供等記録）"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("NotoSansCJK", size=9)
    filters = [_("期間") + ": " + _period(chosen, language, _)]
    if chosen.agency:
        filters.append(_("機関") + ": " + names.agencies.get(chosen.agency, chosen.agency))
    if chosen.item:
        filters.append(_("項目") + ": " + names.items.get(chosen.item, chosen.item))
    filters.append(_("作成日時") + ": " + format_datetime(made_at, language))
    filters.append(_("件数") + f": {len(records)}")
    for line in filters:
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("NotoSansCJK", size=7.5)
    table = _Table(pdf, (14, 30, 40, 40, 80, 36, 37))
    table.header([_(c) for c in COLUMNS])
    for r in records:
        cells = _row(r, names, _)
        cells[1] = format_datetime(r.recorded_at, language)
        table.row(cells)
    if not records:
        pdf.ln(2)
        pdf.cell(0, 6, _("条件に合う記録はありません。"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
