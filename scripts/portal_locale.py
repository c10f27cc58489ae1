"""Keep the portal's English catalogues in step with its messages (``make locale``).

Messages are extracted from the portal's code (``_``, ``N_``) and templates. Each message
belongs to the catalogue of the part that uses it first, so that parts of the portal built
side by side never edit the same file:

- a template under ``templates/<part>/`` or a module ``portal/<part>.py`` /
  ``portal/<part>/`` → ``locale/en/LC_MESSAGES/<part>.po``;
- anything else (the layout, the home page, errors, the menu) → ``messages.po``.

A new message is added with an empty translation, to be written by hand; a message no part
uses any more is dropped. ``tests/portal/test_catalogue.py`` fails while one is empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

PORTAL = Path(__file__).resolve().parents[1] / "src" / "openmyna" / "portal"
LOCALE = PORTAL / "locale" / "en" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {
    "**/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
}
KEYWORDS = {"_": None, "gettext": None, "N_": None}
CORE = "messages"


def owner(relative: str) -> str:
    """The catalogue a file's messages go to."""
    parts = Path(relative).parts
    if parts[0] == "templates" and len(parts) > 2:
        return parts[1]
    if parts[0] != "templates" and len(parts) > 1 and parts[0] not in ("locale", "static"):
        return parts[0]  # a sub-package portal/<part>/
    stem = Path(relative).stem
    core = {"pages", "web", "nav", "i18n", "errors", "service", "sessions", "accounts", "tables"}
    if parts[0] != "templates" and stem not in core and stem != "__init__":
        return stem
    return CORE


def extracted() -> dict[str, str]:
    """Every message of the portal and the catalogue it belongs to (first use wins)."""
    found: dict[str, str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(PORTAL), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, owner(filename))
    return found


def load(path: Path) -> Catalog:
    """A catalogue (an empty one if the file is new)."""
    if not path.exists():
        return Catalog(locale="en", project="openmyna")
    with path.open("rb") as fh:
        return read_po(fh, locale="en")


def main() -> int:
    """Update every catalogue; the number of messages without English."""
    messages = extracted()
    catalogues = {p.stem: load(p) for p in sorted(LOCALE.glob("*.po"))}
    known = {m.id: name for name, cat in catalogues.items() for m in cat if m.id}
    for message, part in messages.items():
        if message not in known:
            catalogues.setdefault(part, Catalog(locale="en", project="openmyna")).add(message)
    empty = 0
    for name, catalog in catalogues.items():
        for m in list(catalog):
            if m.id and m.id not in messages:
                del catalog[m.id]
            elif m.id and not m.string:
                empty += 1
        path = LOCALE / f"{name}.po"
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, no_location=True, omit_header=True, width=100)
    print(f"{len(messages)} messages; {empty} without English", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
