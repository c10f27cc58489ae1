"""``openmyna card login`` (the holder's app) against a live server, with a card file."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from portal_helpers import AUTH_PIN, holder
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, MemoryTransport, PinRef, PinWrong
from openmyna.card.cli import app
from openmyna.card.errors import LoginRefused, LoginUrlInvalid, PortalUnreachable
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from browser import live_server

runner = CliRunner()


@pytest.fixture
def portal(
    settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[str, Platform, Path]]:
    """A live server, and a card file of a holder (the CLI sees the same installation)."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(settings.data_dir))
    platform = Platform(Builder(settings, clock))
    try:
        card = tmp_path / "hanako.card"
        CardFile.create(card, holder(platform).card, settings=settings).close()
        with live_server(create_app(platform)) as url:
            yield url, platform, card
    finally:
        platform.close()


@contextmanager
def _browser(url: str) -> Iterator[tuple[httpx2.Client, str]]:
    """A browser that opened the login page: it and the request's URL."""
    with httpx2.Client(base_url=url, trust_env=False) as browser:
        went = browser.get("/login", params={"next": "/records"})
        assert went.status_code == 303
        request_id = went.headers["location"].rsplit("/", 1)[-1]
        yield browser, f"{url}/login/r/{request_id}"


def test_the_holders_app_logs_the_waiting_browser_in(
    portal: tuple[str, Platform, Path],
) -> None:
    url, platform, card = portal
    with _browser(url) as (browser, request_url):
        result = runner.invoke(
            app, ["login", request_url, "--reader", str(card), "--pin-stdin"], input=AUTH_PIN + "\n"
        )
        assert result.exit_code == 0, result.output
        assert re.search(
            r"login request [2-9A-Z]{4}-[2-9A-Z]{4} at http://127\.0\.0\.1:\d+", result.output
        )
        assert "logged in" in result.output
        request_id = request_url.rsplit("/", 1)[-1]
        done = browser.get(f"/login/wait/{request_id}/status", headers={"HX-Request": "true"})
        assert done.headers["HX-Redirect"] == "/records"
        assert platform.portal.sessions.current(browser.cookies[COOKIE])
        again = runner.invoke(
            app, ["login", request_url, "--reader", str(card), "--pin-stdin"], input=AUTH_PIN + "\n"
        )
        assert isinstance(again.exception, LoginRefused)
        assert again.exception.context["reason"] == "LOGIN_REQUEST_ANSWERED"


def test_the_short_code_instead_of_the_url(portal: tuple[str, Platform, Path]) -> None:
    url, platform, card = portal
    with _browser(url) as (browser, request_url):
        request_id = request_url.rsplit("/", 1)[-1]
        code = platform.portal.logins.get(request_id).display_code
        result = runner.invoke(
            app,
            ["login", url, "--code", code.lower(), "--reader", str(card), "--pin-stdin"],
            input=AUTH_PIN + "\n",
        )
        assert result.exit_code == 0, result.output
        done = browser.get(f"/login/wait/{request_id}/status", headers={"HX-Request": "true"})
        assert done.headers["HX-Redirect"] == "/records"


def test_a_wrong_pin_is_the_cards_business(portal: tuple[str, Platform, Path]) -> None:
    url, platform, card = portal
    with _browser(url) as (_, request_url):
        result = runner.invoke(
            app, ["login", request_url, "--reader", str(card), "--pin-stdin"], input="9999\n"
        )
        assert isinstance(result.exception, PinWrong)
        assert result.exception.context["tries_left"] == 2
        with CardFile.open(card, settings=platform.settings) as opened:
            assert CardClient(MemoryTransport(opened.card)).tries_left(PinRef.AUTH) == 2
        request_id = request_url.rsplit("/", 1)[-1]
        assert platform.portal.logins.get(request_id).attempts == 0  # nothing reached the portal


def test_bad_urls_and_an_unreachable_portal(portal: tuple[str, Platform, Path]) -> None:
    url, _, card = portal
    for bad in ("ftp://127.0.0.1/login/r/x", "not a url", f"{url}/"):
        result = runner.invoke(
            app, ["login", bad, "--reader", str(card), "--pin-stdin"], input="1234\n"
        )
        assert isinstance(result.exception, LoginUrlInvalid | LoginRefused), bad
    gone = runner.invoke(
        app,
        ["login", "http://127.0.0.1:9/login/r/" + "0" * 32, "--reader", str(card), "--pin-stdin"],
        input="1234\n",
    )
    assert isinstance(gone.exception, PortalUnreachable)
    unknown = runner.invoke(
        app,
        ["login", f"{url}/login/r/" + "0" * 32, "--reader", str(card), "--pin-stdin"],
        input="1234\n",
    )
    assert isinstance(unknown.exception, LoginRefused)
    assert unknown.exception.context["reason"] == "LOGIN_REQUEST_NOT_FOUND"
