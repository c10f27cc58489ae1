"""Take the docs' screenshots of the pages (docs/images/*.png) in Debian's chromium.

Run: ``.venv/bin/python scripts/screenshots.py`` (a small seeded installation in a temp dir,
served on a free port; nothing else is touched).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from browser import browser, live_server  # noqa: E402

from openmyna.builder import Builder  # noqa: E402
from openmyna.clock import FixedClock  # noqa: E402
from openmyna.config import Settings  # noqa: E402
from openmyna.demo.seed import seed_town  # noqa: E402
from openmyna.platform import Platform  # noqa: E402
from openmyna.web import create_app  # noqa: E402


def main() -> None:
    """Seed, serve, and save each page at desktop and phone size."""
    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        clock = FixedClock(dt.datetime(2026, 12, 3, 0, 0, tzinfo=dt.UTC))
        platform = Platform(Builder(settings, clock))
        try:
            seed_town(platform.registries, 2000)
            with live_server(create_app(platform)) as url, browser() as b:
                for name, viewport, scale in (
                    ("landing", {"width": 1280, "height": 900}, 1),
                    ("landing-phone", {"width": 375, "height": 740}, 2),
                ):
                    page = b.new_page(viewport=viewport, device_scale_factor=scale)
                    page.goto(url + "/platform")
                    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                    print(out / f"{name}.png")
        finally:
            platform.close()


if __name__ == "__main__":
    main()
