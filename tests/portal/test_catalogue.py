"""The English catalogue: every message of the templates and the code has its English."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from openmyna.portal.i18n import catalogue_paths, format_date, format_datetime, translations

PORTAL = Path(str(files("openmyna.portal")))
METHODS = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
OPTIONS = {
    "**/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
}


def _messages() -> set[str]:
    found = extract_from_dir(
        str(PORTAL),
        METHODS,
        keywords={"_": None, "gettext": None, "N_": None},
        options_map=OPTIONS,
    )
    return {m for _file, _line, m, _comments, _context in found if isinstance(m, str) and m}


def test_every_message_has_its_english() -> None:
    english: dict[str, str] = {}
    for path in catalogue_paths("en"):
        with path.open("rb") as fh:
            english |= {
                m.id: m.string
                for m in read_po(fh, locale="en")
                if isinstance(m.id, str) and isinstance(m.string, str)
            }
    messages = _messages()
    assert messages, "no messages found: the extraction is broken"
    missing = sorted(m for m in messages if not english.get(m))
    assert missing == [], "run `make locale` and translate these"
    assert translations("en").gettext("ホーム") == "Home"
    assert translations("ja").gettext("ホーム") == "ホーム"


def test_dates_in_japan_time_with_the_era() -> None:
    import datetime as dt

    late = dt.datetime(2026, 12, 3, 16, 30, tzinfo=dt.UTC)  # 01:30 on the 4th in Japan
    assert format_datetime(late, "ja") == "令和8年12月4日 01:30"
    assert format_datetime(late, "en") == "4 December 2026, 01:30 JST"
    assert format_date(dt.date(2019, 5, 1), "ja") == "令和元年5月1日"
    assert format_date(late, "en") == "4 December 2026"
