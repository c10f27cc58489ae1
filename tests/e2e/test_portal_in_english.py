"""Every main page of the portal in English, in a real browser: nothing of the page's own
text left in Japanese, no serious axe-core finding, and a screenshot for the docs.

Data keeps its language (a notice an agency wrote in Japanese, a person's name, an address):
the check covers what the portal itself says — the menu, headings, labels, buttons and table
heads — and skips an element marked ``lang="ja"`` (the switch back to 日本語) and what a page
names as data. Screenshots go to the test's folder, and to ``$OPENMYNA_SCREENSHOTS`` when it is
set (docs/images/portal-*-en.png were taken so).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser import browser, live_server, serious_violations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from notice_helpers import post, write_services
from portal_helpers import MAEBASHI, authenticate, holder

SHOTS = os.environ.get("OPENMYNA_SCREENSHOTS")
#: Kana and the CJK ideographs: what an English page of the portal's own must not show.
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
#: The portal's own words on a page: the menu, headings, form labels, buttons, table heads.
OWN_TEXT = "nav a, h1, h2, h3, label, button, th, legend, summary"


@dataclass(frozen=True)
class Served:
    url: str
    platform: Platform
    person_token: str
    staff_token: str
    notice_id: str
    payment_id: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A resident with a notice and a payment due, and a clerk of 前橋市, served."""
    folder = tmp_path_factory.mktemp("english")
    services = write_services(
        folder / "delivery-services.toml",
        [("demo-post", "http://127.0.0.1:9/hooks", secrets.token_bytes(32))],
    )
    settings = Settings(data_dir=folder / "data")
    settings = settings.model_copy(
        update={"portal": settings.portal.model_copy(update={"delivery_services": services})}
    )
    clock = FixedClock(dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.UTC))
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform)
        notice_id = post(
            platform,
            person.resident,
            title="令和8年度 住民税（普通徴収）の納税通知書を送付しました",
            body="第1期の納期限は6月30日です。",
            category="tax",
            link="/payments/tax-2026-1",
        ).notice_id
        code = platform.network.issue_code("lg-102016", person.resident.individual_number)
        payment = platform.portal.payments.request(
            "lg-102016",
            code,
            purpose="令和8年度 市県民税 第1期",
            amount=12_300,
            due_on=dt.date(2026, 6, 30),
            agency_key="tax-2026-1",
        )
        result = authenticate(platform, person.card)
        account = platform.portal.accounts.for_login(result)
        person_token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
        clerk = holder(platform, "鈴木", "一郎")
        staff = authenticate(platform, clerk.card)
        staff_account = platform.portal.accounts.for_login(staff)
        platform.backoffice.staff.grant(
            MAEBASHI, staff_account.account_id, Role.CLERK, "鈴木 一郎", by=None
        )
        staff_token, _ = platform.portal.sessions.create(staff_account.account_id, staff.subject_id)
        with live_server(create_app(platform)) as url:
            yield Served(url, platform, person_token, staff_token, notice_id, payment.payment_id)
    finally:
        platform.close()


def _japanese_left(page: Any, skip: str) -> list[str]:
    """The portal's own texts on ``page`` that still hold Japanese (data and 日本語 skipped)."""
    texts: list[str] = page.eval_on_selector_all(
        OWN_TEXT,
        """(els, skip) => els
            .filter(e => {
                const marked = e.closest('[lang]');
                const inJapanese = marked && marked !== document.documentElement
                    && marked.lang === 'ja';
                return !inJapanese && !(skip && e.closest(skip));
            })
            .map(e => e.innerText.trim())""",
        skip,
    )
    return [t for t in texts if JAPANESE.search(t)]


def _english_context(b: Any, url: str, token: str) -> Any:
    context = b.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [
            {"name": COOKIE, "value": token, "url": url},
            {"name": "omyna_lang", "value": "en", "url": url},
        ]
    )
    return context


def _shot(page: Any, tmp_path: Path, name: str, *, for_docs: bool = True) -> None:
    path = tmp_path / f"portal-{name}-en.png"
    page.screenshot(path=str(path), full_page=True)
    if SHOTS and for_docs:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


#: (screenshot name, path, a selector of data on the page that keeps its language, whether
#: the docs take this screenshot: pages whose own tests take a fuller one say False).
PERSON_PAGES = [
    ("home", "/", "", False),
    ("account", "/account", ".login-history td, .sessions td", True),
    ("records", "/records", "", False),
    ("mydata", "/my-data", "", False),
    ("notices-list", "/notices", ".notice-title", False),
    ("notices-notice", "/notices/{notice_id}", "h1, .notice-body", True),
    ("notices-delivery", "/notices/delivery", "", True),
    ("payments", "/payments", "td", True),
    ("payment", "/payments/{payment_id}", "h1, td", True),
    ("apply-search", "/services", ".service-municipality", False),
    ("moving", "/moving", "", False),
    ("proxy", "/proxy", "", False),
    ("statistics", "/statistics", "", True),
]


@pytest.mark.parametrize(
    ("name", "path", "data", "for_docs"), PERSON_PAGES, ids=[p[0] for p in PERSON_PAGES]
)
def test_a_persons_page_in_english(
    served: Served, tmp_path: Path, name: str, path: str, data: str, for_docs: bool
) -> None:
    with browser() as b:
        page = _english_context(b, served.url, served.person_token).new_page()
        response = page.goto(
            served.url + path.format(notice_id=served.notice_id, payment_id=served.payment_id)
        )
        assert response is not None
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == "en"
        assert _japanese_left(page, data) == []
        assert serious_violations(page) == []
        _shot(page, tmp_path, name, for_docs=for_docs)


def test_the_back_office_in_english(served: Served, tmp_path: Path) -> None:
    with browser() as b:
        page = _english_context(b, served.url, served.staff_token).new_page()
        page.goto(served.url + "/backoffice")
        assert page.locator("html").get_attribute("lang") == "en"
        assert _japanese_left(page, "") == []
        assert serious_violations(page) == []
        _shot(page, tmp_path, "backoffice-home")
