"""The platform page (``/platform``) in a real browser: Japanese first, what runs, links, health."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import browser, live_server, serious_violations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import seed_town
from openmyna.platform import Platform
from openmyna.web import create_app


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small seeded installation served on a free port."""
    import datetime as dt

    settings = Settings(data_dir=tmp_path_factory.mktemp("landing"), clock="2026-04-01T09:00+09:00")
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        seed_town(platform.registries, 120, municipalities=("102016", "281000"))
        with live_server(create_app(platform)) as url:
            yield url
    finally:
        platform.close()


def test_the_page_says_what_runs_in_japanese_first(site: str, tmp_path: Path) -> None:
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        page.goto(site + "/platform")
        assert page.locator("html").get_attribute("lang") == "ja"
        assert "マイナンバー制度のオープンな実装" in page.title()
        headings = page.locator("h2").all_inner_texts()
        assert [h.split("\n")[0].strip() for h in headings] == [
            "稼働状況",
            "このインストールで動いているもの",
            "提供している URL",
        ]
        registry = page.locator("#p-registry").locator("..").inner_text()
        assert "2 市区町村" in registry
        assert "120 人" in registry
        assert "群馬県前橋市" in registry
        assert "兵庫県神戸市" in registry
        status = page.locator(".status").inner_text()
        assert "正常" in status
        assert "SQLite" in status
        assert "sandbox" in status
        assert "2026-04-01 00:00 UTC" in status
        # The endpoint table comes from the app's routes: every part's routes are there.
        paths = page.locator("table tbody tr td:first-child").all_inner_texts()
        for path in ("/healthz", "/api/registry/municipalities", "/ocsp", "/crl/{kind}"):
            assert path in paths
        assert "/api/network/allow-list" in paths
        assert "/docs" in paths
        page.screenshot(path=str(tmp_path / "landing.png"), full_page=True)
        assert serious_violations(page) == []


def test_every_link_on_the_page_answers(site: str) -> None:
    with browser() as b:
        page = b.new_page()
        page.goto(site + "/platform")
        hrefs = sorted(
            set(
                page.locator("a[href^='/']").evaluate_all(
                    "els => els.map(e => e.getAttribute('href'))"
                )
            )
        )
        assert "/crl/auth" in hrefs
        assert "/api/network/agencies" in hrefs
        for href in hrefs:
            reply = page.request.get(site + href)
            assert reply.status == 200, href


def test_the_page_fits_a_phone(site: str, tmp_path: Path) -> None:
    with browser() as b:
        page = b.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
        page.goto(site + "/platform")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 375 + 1, "the page scrolls sideways on a phone"
        page.screenshot(path=str(tmp_path / "landing-phone.png"), full_page=True)
        assert serious_violations(page) == []


def test_unknown_pages_are_problems_not_html(site: str) -> None:
    with browser() as b:
        page = b.new_page()
        reply = page.request.get(site + "/no/such/page")
        assert reply.status == 404
        assert reply.headers["content-type"] == "application/problem+json"
