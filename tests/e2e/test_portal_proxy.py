"""代理人 in a real browser: a principal invites a proxy, who acts within the scope and not outside.

Screenshots go to the test's folder, or to ``$OPENMYNA_SCREENSHOTS`` when set (the docs'
images are taken that way: ``OPENMYNA_SCREENSHOTS=docs/images``).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import browser, live_server, screenshots, serious_violations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from notice_helpers import post
from portal_helpers import Holder, authenticate, holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("proxy"))
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform
    finally:
        platform.close()


def _logged_in(b: Any, url: str, platform: Platform, who: Holder) -> Any:
    result = authenticate(platform, who.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    context = b.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    return context.new_page()


def test_a_proxy_within_and_outside_the_scope(served: tuple[str, Platform], tmp_path: Path) -> None:
    url, platform = served
    shots = screenshots(tmp_path)
    hanako = holder(platform)
    ichiro = holder(platform, "山田", "一郎")
    post(platform, hanako.resident, title="介護保険料の納入通知書を送付しました")
    post(platform, ichiro.resident, title="一郎さん宛ての国民健康保険のお知らせ")
    with browser() as b:
        mother = _logged_in(b, url, platform, hanako)
        mother.goto(url + "/proxy")
        assert serious_violations(mother) == []
        mother.fill("#proxy-label", "長男 一郎")
        mother.fill("#principal-label", "母 花子")
        mother.get_by_label("お知らせ").check()
        mother.get_by_label("最終日").fill("2026-09-30")
        mother.get_by_role("button", name="招待コードを作成する").click()
        mother.wait_for_load_state()
        code = mother.locator(".invitation-code code").inner_text()
        assert len(code) == 19
        assert serious_violations(mother) == []

        son = _logged_in(b, url, platform, ichiro)
        son.goto(url + "/proxy")
        son.get_by_label("招待コード").fill(code)
        son.get_by_label("招待コード").press("Enter")
        son.wait_for_url(url + "/proxy")
        with son.expect_navigation():
            son.get_by_role("button", name="母 花子 さんの代理人として利用する").click()
        banner = son.get_by_role("region", name="代理人として利用中")
        assert "母 花子 さんの代理人として利用しています" in banner.inner_text()
        menu = son.get_by_role("navigation", name="メニュー")
        assert menu.get_by_role("link", name="お知らせ").is_visible()
        assert menu.get_by_role("link", name="公金決済").count() == 0
        assert menu.get_by_role("link", name="アカウント").count() == 0
        menu.get_by_role("link", name="お知らせ").click()
        son.wait_for_url(url + "/notices")
        listed = son.inner_text("main")
        assert "介護保険料の納入通知書を送付しました" in listed
        assert "一郎さん宛て" not in listed
        assert serious_violations(son) == []
        son.screenshot(path=str(shots / "portal-proxy-acting-ja.png"), full_page=True)

        # Outside the scope: refused, with the way back to acting as oneself.
        son.goto(url + "/account")
        refused = son.get_by_role("heading", name="このページは代理人として利用できません")
        assert refused.is_visible()
        assert "ログイン履歴" not in son.inner_text("main")
        assert serious_violations(son) == []
        son.screenshot(path=str(shots / "portal-proxy-refused-ja.png"), full_page=True)
        son.get_by_role("link", name="English").click()
        son.wait_for_load_state()
        son.goto(url + "/notices")
        assert "acting as proxy for 母 花子" in son.get_by_role("region").first.inner_text()
        son.screenshot(path=str(shots / "portal-proxy-acting-en.png"), full_page=True)
        with son.expect_navigation():
            son.get_by_role("region").first.get_by_role("button").click()
        assert son.get_by_role("region", name="Acting as a proxy").count() == 0
        son.goto(url + "/account")
        assert son.get_by_role("heading", name="Account").is_visible()

        # The principal sees what the proxy did, allowed and refused.
        mother.goto(url + "/proxy")
        log = mother.locator("section", has=mother.locator("#log")).inner_text()
        assert "GET /notices" in log
        assert "GET /account" in log
        assert "拒否" in log
        assert "許可" in log
        assert serious_violations(mother) == []
        mother.screenshot(path=str(shots / "portal-proxy-ja.png"), full_page=True)
        mother.get_by_role("link", name="English").click()
        mother.wait_for_load_state()
        assert mother.get_by_role("heading", name="Proxies", exact=True).is_visible()
        mother.screenshot(path=str(shots / "portal-proxy-en.png"), full_page=True)

        phone = mother.context.new_page()
        phone.set_viewport_size({"width": 375, "height": 740})
        phone.goto(url + "/proxy")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 376
