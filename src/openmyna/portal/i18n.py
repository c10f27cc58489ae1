"""Japanese first, English by a switch: the portal's text comes from gettext catalogues.

The templates are written in Japanese (the source language: what a page says with no
catalogue); ``locale/en/LC_MESSAGES/*.po`` hold the English, one catalogue per part of the
portal (``messages.po`` for the layout and the home page, ``<part>.po`` for each part's
templates and code), read with Babel and merged when the portal starts (no compiled files in
the tree). ``make locale`` (``scripts/portal_locale.py``) extracts the messages and adds new
ones to their part's catalogue; a test checks that every message has its English.

Dates and times are shown in Japan time (JST, UTC+9, no daylight saving), and dates the way
Japanese readers expect them on official pages: ``令和8年12月4日`` (``openmyna.law.wareki``),
with ``4 December 2026`` in English.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
from importlib.resources import files
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from openmyna.clock import JST
from openmyna.law import era_of, wareki
from openmyna.portal.errors import UnknownLanguage

LANGUAGES = ("ja", "en")
DEFAULT = "ja"
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
_PACKAGE = files("openmyna.portal")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def checked_language(code: str) -> str:
    """``code`` if the portal has it (``UNKNOWN_LANGUAGE`` otherwise)."""
    if code not in LANGUAGES:
        raise UnknownLanguage("the portal speaks Japanese (ja) and English (en)", language=code[:8])
    return code


def catalogue_paths(language: str) -> list[Path]:
    """A language's catalogues (``.po``), one per part of the portal."""
    folder = Path(str(_PACKAGE.joinpath(f"locale/{language}/LC_MESSAGES")))
    return sorted(folder.glob("*.po"))


def _compiled(path: Path, language: str) -> Translations:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The gettext translations of ``language`` (Japanese is the source: none needed)."""
    if checked_language(language) == DEFAULT:
        return gettext.NullTranslations()
    merged = Translations()
    for path in catalogue_paths(language):
        merged.merge(_compiled(path, language))
    return merged


def in_jst(moment: dt.datetime) -> dt.datetime:
    """A moment in Japan time (naive values are taken as UTC, as the stores keep them)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(JST)


def format_date(day: dt.date | dt.datetime, language: str) -> str:
    """A date as the page's readers expect it: ``令和8年12月4日`` / ``4 December 2026``."""
    if isinstance(day, dt.datetime):
        day = in_jst(day).date()
    if language == DEFAULT:
        return wareki(day)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_month(year: int, month: int, language: str) -> str:
    """A month as the page's readers expect it: ``令和8年4月`` / ``April 2026``."""
    if language == DEFAULT:
        era, in_era = era_of(dt.date(year, month, 1))
        return f"{era.name}{'元' if in_era == 1 else in_era}年{month}月"
    return f"{_MONTHS[month - 1]} {year}"


def format_datetime(moment: dt.datetime, language: str) -> str:
    """A moment in Japan time: ``令和8年12月4日 10:17`` / ``4 December 2026, 10:17 JST``."""
    local = in_jst(moment)
    if language == DEFAULT:
        return f"{wareki(local.date())} {local:%H:%M}"
    return f"{format_date(local.date(), language)}, {local:%H:%M} JST"


def format_iso_date(day: dt.date | dt.datetime) -> str:
    """A date as ``2026-12-04`` in Japan time (for form fields and exports)."""
    if isinstance(day, dt.datetime):
        day = in_jst(day).date()
    return day.isoformat()


@functools.cache
def environment(language: str) -> Environment:
    """The templates, with ``language``'s translations and the date filters."""
    env = Environment(
        loader=FileSystemLoader(str(_PACKAGE.joinpath("templates"))),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = lambda d: format_date(d, language)
    env.filters["datetime"] = lambda m: format_datetime(m, language)
    env.filters["isodate"] = format_iso_date
    env.globals["language"] = language
    env.globals["languages"] = LANGUAGE_NAMES
    return env
