"""申請 (P5) pages over HTTP: search by municipality, category, life event and words; a
service's page; the waiting page's poll; the demo wallet with real card files."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from eapply_helpers import (
    CHILD_ALLOWANCE,
    CHILD_ALLOWANCE_ANSWERS,
    answer_prefill,
    csrf,
    demo_card,
    request_prefill,
    request_signature,
    save,
    start,
    token_in,
)
from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, holder, login

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import PortalSettings, Settings
from openmyna.platform import Platform
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.portal.login.wallet import cards_dir
from openmyna.web import create_app


def _titles(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/services/([^"]+)">', html)


def test_search_by_municipality_category_and_life_event(client: TestClient) -> None:
    everything = client.get("/services")
    assert everything.status_code == 200
    assert len(_titles(everything.text)) == 14 * 2 + 5  # two forms everywhere, one in five
    kobe = _titles(client.get("/services", params={"municipality": "281000"}).text)
    assert kobe == [
        "281000-child-allowance-claim",
        "281000-disaster-certificate",
        "281000-move-out-notice",
    ]
    moving = client.get("/services", params={"municipality": "102016", "life_event": "moving"})
    assert _titles(moving.text) == ["102016-child-allowance-claim", "102016-move-out-notice"]
    disaster = client.get("/services", params={"category": "disaster"}).text
    assert "102016-disaster-certificate" not in disaster  # 前橋市 does not offer it online
    assert len(_titles(disaster)) == 5
    words = client.get("/services", params={"municipality": "102016", "q": "児童手当"}).text
    assert _titles(words) == ["102016-child-allowance-claim"]
    english = client.get("/services", params={"municipality": "102016", "q": "MOVE-OUT"}).text
    assert _titles(english) == ["102016-move-out-notice"]
    none = client.get("/services", params={"q": "<script>x</script>"}).text
    assert _titles(none) == []
    assert "&lt;script&gt;x&lt;/script&gt;" in none
    assert "条件に合う手続は見つかりませんでした" in none
    odd = client.get("/services", params={"municipality": "../etc", "category": "nope"})
    assert odd.status_code == 200  # unknown filters are dropped, not errors
    assert len(_titles(odd.text)) == 14 * 2 + 5


def test_the_search_reads_in_english(client: TestClient) -> None:
    client.get("/lang/en")
    page = client.get("/services", params={"municipality": "102016"}).text
    assert "Child allowance: claim for recognition" in page
    assert "Find a procedure you can apply for" in page


def test_a_service_page_says_who_receives_it_and_what_it_needs(
    client: TestClient, platform: Platform
) -> None:
    page = client.get(f"/services/{CHILD_ALLOWANCE}").text
    assert "群馬県前橋市 こども家庭課（児童手当担当）" in page
    assert "児童手当法 第7条" in page
    assert "課税証明書" in page  # not needed: obtained over the network
    assert 'href="/login?next=/services/102016-child-allowance-claim"' in page
    assert client.get("/services/999999-nothing").status_code == 404
    login(platform, client, holder(platform).card)
    assert "申請を始める" in client.get(f"/services/{CHILD_ALLOWANCE}").text
    assert 'href="/services"' in client.get("/").text  # the menu lists 申請


def test_the_waiting_page_polls_until_the_card_answered(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    draft = start(client)
    page = client.post(f"{draft}/prefill", data={"csrf_token": csrf(client), "consent": "yes"})
    assert "openmyna card prefill http://127.0.0.1/services/card/" in page.text
    assert 'src="data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns' in page.text  # the QR code
    assert "デモ用ウォレット" not in page.text  # off unless the demo runs
    status_path = re.search(r'hx-get="([^"]+/status)"', page.text)
    assert status_path
    waiting = client.get(status_path.group(1), headers={"HX-Request": "true"})
    assert waiting.status_code == 200
    assert "カードからの応答を待っています" in waiting.text
    answer_prefill(client, who.card, token_in(page.text))
    done = client.get(status_path.group(1), headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"] == f"{draft}?filled=1"
    request_page = status_path.group(1).removesuffix("/status")
    assert client.get(request_page, follow_redirects=False).headers["location"] == (
        f"{draft}?filled=1"
    )


# --- the demo wallet --------------------------------------------------------------------------


@pytest.fixture
def demo(settings: Settings, clock: FixedClock) -> Iterator[tuple[Platform, TestClient]]:
    """The platform with the demo wallet on, served to a test client."""
    with_wallet = settings.model_copy(update={"portal": PortalSettings(demo_wallet=True)})
    built = Platform(Builder(with_wallet, clock))
    try:
        with TestClient(create_app(built), base_url="http://127.0.0.1") as c:
            yield built, c
    finally:
        built.close()


def test_the_wallet_is_off_outside_the_demo(client: TestClient, platform: Platform) -> None:
    login(platform, client, holder(platform).card)
    token = request_prefill(client, start(client))
    assert client.get(f"/services/wallet/{token}").status_code == 404
    assert client.post(f"/services/wallet/{token}", data={"card": "x"}).status_code == 404
    served = {getattr(r, "path", "") for r in client.app.routes}  # type: ignore[attr-defined]
    assert "/services/wallet/{token}" not in served  # not even served outside the demo


def test_the_demo_wallet_reads_and_signs_with_a_card_file(
    demo: tuple[Platform, TestClient],
) -> None:
    platform, client = demo
    who = holder(platform)
    demo_card(platform, who, "yamada-hanako", "山田 花子（申請者）")
    (cards_dir(platform.settings) / "stray.card").write_bytes(b"not listed")
    login(platform, client, who.card)
    draft = start(client)
    page = client.post(f"{draft}/prefill", data={"csrf_token": csrf(client), "consent": "yes"})
    token = re.search(r'href="/services/wallet/([^"]+)"', page.text)
    assert token
    wallet = client.get(f"/services/wallet/{token.group(1)}").text
    assert "山田 花子（申請者）" in wallet
    assert "stray" not in wallet  # only the cards cards.json lists
    assert "個人番号" in wallet  # the claim takes the number: the wallet says it reads it
    wrong = client.post(
        f"/services/wallet/{token.group(1)}", data={"card": "yamada-hanako", "secret": "9999"}
    )
    assert "暗証番号またはパスワードが違います" in wrong.text
    assert "残り2回" in wrong.text
    sneaky = client.post(
        f"/services/wallet/{token.group(1)}", data={"card": "../db", "secret": AUTH_PIN}
    )
    assert "カードを選んでください" in sneaky.text
    done = client.post(
        f"/services/wallet/{token.group(1)}", data={"card": "yamada-hanako", "secret": AUTH_PIN}
    )
    assert done.status_code == 200
    assert "申請書に送りました" in done.text
    assert 'value="山田 花子"' in client.get(draft).text

    assert save(client, draft, CHILD_ALLOWANCE_ANSWERS).status_code == 303
    token_text = client.post(f"{draft}/sign", data={"csrf_token": csrf(client)}).text
    sign_token = re.search(r'href="/services/wallet/([^"]+)"', token_text)
    assert sign_token
    signed = client.post(
        f"/services/wallet/{sign_token.group(1)}",
        data={"card": "yamada-hanako", "secret": SIGN_PASSWORD},
    )
    assert "受付番号" in signed.text
    [application] = platform.portal.eapply.office.inbox("102016")
    assert application.status is ApplicationStatus.SUBMITTED
    assert application.reference in signed.text


def test_signing_in_the_wallet_with_another_persons_card_is_refused(
    demo: tuple[Platform, TestClient],
) -> None:
    platform, client = demo
    who, other = holder(platform), holder(platform, "佐藤", "次郎")
    demo_card(platform, other, "sato-jiro", "佐藤 次郎")
    login(platform, client, who.card)
    draft = start(client)
    answer_prefill(client, who.card, request_prefill(client, draft))
    assert save(client, draft, CHILD_ALLOWANCE_ANSWERS).status_code == 303
    token = request_signature(client, draft)
    refused = client.post(
        f"/services/wallet/{token}", data={"card": "sato-jiro", "secret": SIGN_PASSWORD}
    )
    assert "ログインしている方のカードで署名してください" in refused.text
    assert platform.portal.eapply.office.inbox("102016") == []
