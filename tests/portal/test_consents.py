"""The portal's 同意 pages (the latest-4-items service's consents): list, review, sign,
revoke; CSRF, escaping, another person's ids, English; the operator's CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from consent_helpers import ask, consent, csrf, register, signing_token
from eapply_helpers import demo_card
from fastapi.testclient import TestClient
from portal_helpers import SIGN_PASSWORD, holder, login
from typer.testing import CliRunner, Result

from openmyna.builder import Builder
from openmyna.cli import build
from openmyna.clock import FixedClock
from openmyna.config import PortalSettings, Settings
from openmyna.errors import OpenMynaError
from openmyna.platform import Platform
from openmyna.web import create_app

OPERATOR_TOKEN = "operator-token-0123456789"


def test_the_page_lists_requests_and_consents_and_revokes(
    platform: Platform, client: TestClient
) -> None:
    bank = register(platform)
    person = holder(platform)
    login(platform, client, person.card)
    empty = client.get("/consents")
    assert empty.status_code == 200
    assert 'href="/consents"' in empty.text  # the menu entry
    assert "同意を求められているものはありません。" in empty.text
    request_id = ask(client, bank, person)
    listed = client.get("/consents")
    assert f"/consents/requests/{request_id}" in listed.text
    review = client.get(f"/consents/requests/{request_id}")
    assert "デモ銀行" in review.text
    assert "電子署名して同意する" in review.text
    consent_id = consent(platform, client, person, request_id)
    after = client.get("/consents")
    assert f"/consents/{consent_id}" in after.text
    assert "同意中" in after.text
    assert f"/consents/requests/{request_id}" not in after.text  # no longer waiting
    shown = client.get(f"/consents/{consent_id}")
    assert "同意しました" in shown.text
    assert "同意を取り消す" in shown.text
    revoked = client.post(
        f"/consents/{consent_id}/revoke",
        data={"csrf_token": csrf(client, f"/consents/{consent_id}")},
    )
    assert revoked.status_code == 200
    assert "同意を取り消しました。" in revoked.text
    assert "取消済み" in client.get("/consents").text


def test_declining_closes_the_request(platform: Platform, client: TestClient) -> None:
    bank = register(platform)
    person = holder(platform)
    login(platform, client, person.card)
    request_id = ask(client, bank, person)
    declined = client.post(
        f"/consents/requests/{request_id}/decline",
        data={"csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert declined.status_code == 303
    page = client.get(f"/consents/requests/{request_id}")
    assert "この依頼は終了しています" in page.text
    again = client.post(f"/consents/requests/{request_id}/sign", data={"csrf_token": csrf(client)})
    assert again.status_code == 409
    assert "CONSENT_REQUEST_CLOSED" in again.text


def test_forms_need_the_csrf_token_and_the_same_origin(
    platform: Platform, client: TestClient
) -> None:
    bank = register(platform)
    person = holder(platform)
    login(platform, client, person.card)
    consent_id = consent(platform, client, person, ask(client, bank, person))
    request_id = ask(client, bank, person, reference="cust-9")
    no_token = client.post(f"/consents/{consent_id}/revoke", data={})
    assert no_token.status_code == 403
    assert "CSRF_REFUSED" in no_token.text
    cross = client.post(
        f"/consents/{consent_id}/revoke",
        data={"csrf_token": csrf(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert client.post(f"/consents/requests/{request_id}/sign", data={}).status_code == 403
    assert client.post(f"/consents/requests/{request_id}/decline", data={}).status_code == 403
    assert "同意中" in client.get(f"/consents/{consent_id}").text  # still active


def test_a_business_name_is_escaped(platform: Platform, client: TestClient) -> None:
    evil = register(platform, name='<script>alert("x")</script>')
    person = holder(platform)
    login(platform, client, person.card)
    request_id = ask(client, evil, person)
    for path in ("/consents", f"/consents/requests/{request_id}"):
        page = client.get(path)
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert" in page.text


def test_another_persons_request_and_consent_are_not_found(
    platform: Platform, client: TestClient
) -> None:
    bank = register(platform)
    person = holder(platform)
    other = holder(platform, "鈴木", "次郎")
    login(platform, client, person.card)
    request_id = ask(client, bank, person)
    consent_id = consent(platform, client, person, request_id)
    pending_id = ask(client, bank, person, reference="cust-3")
    token = signing_token(client, pending_id)
    intruder = TestClient(client.app, base_url="http://127.0.0.1")
    login(platform, intruder, other.card)
    token_other = csrf(intruder)
    for method, path in (
        ("GET", f"/consents/{consent_id}"),
        ("GET", f"/consents/requests/{request_id}"),
        ("POST", f"/consents/{consent_id}/revoke"),
        ("POST", f"/consents/requests/{pending_id}/sign"),
        ("POST", f"/consents/requests/{pending_id}/decline"),
        ("GET", "/consents/0123456789abcdef0123456789abcdef"),
        ("GET", "/consents/../../etc"),
    ):
        answer = intruder.request(method, path, data={"csrf_token": token_other})
        assert answer.status_code == 404, (method, path)
    assert f"/consents/{consent_id}" not in intruder.get("/consents").text
    assert "同意中" in client.get(f"/consents/{consent_id}").text
    # The signing URL is the holder's app's, not a page: it needs no session, and a wrong
    # token is a problem+json 404.
    assert client.get(f"/consents/card/{token}").json()["kind"] == "sign"
    wrong = client.get("/consents/card/" + "x" * 43)
    assert wrong.status_code == 404
    assert wrong.json()["title"] == "CONSENT_REQUEST_NOT_FOUND"


def test_the_pages_in_english(platform: Platform, client: TestClient) -> None:
    bank = register(platform)
    person = holder(platform)
    login(platform, client, person.card)
    request_id = ask(client, bank, person)
    client.get("/lang/en")
    listed = client.get("/consents")
    assert "Requests for your consent" in listed.text
    assert "Demo Bank" in listed.text
    review = client.get(f"/consents/requests/{request_id}")
    assert "Sign and consent" in review.text


def _run(args: list[str], token: str) -> Result:
    return CliRunner().invoke(build(args), args, input=f"{token}\n")


def test_the_operator_registers_a_business_from_the_cli(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = platform.settings
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", platform.clock.now().isoformat())
    monkeypatch.setenv("OPENMYNA_SCHEMA_PREFIX", settings.schema_prefix)
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", OPERATOR_TOKEN)
    if settings.database_url:
        monkeypatch.setenv("OPENMYNA_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    add = ["latest-items", "business", "add", "--name", "デモ銀行"]
    refused = _run(add, "wrong-token-000000")
    assert isinstance(refused.exception, OpenMynaError)
    assert refused.exception.code == "OPERATOR_REQUIRED"
    added = _run([*add, "--webhook-url", "http://127.0.0.1:9/h"], OPERATOR_TOKEN)
    assert added.exit_code == 0, added.output
    assert "API key: lik_" in added.output
    assert "webhook secret: whsec_" in added.output
    key = added.output.split("API key: ")[1].split()[0]
    listed = _run(["latest-items", "business", "list"], OPERATOR_TOKEN)
    assert "デモ銀行" in listed.output
    assert key not in listed.output
    bad = _run([*add, "--webhook-url", "http://example.com/h"], OPERATOR_TOKEN)
    assert isinstance(bad.exception, OpenMynaError)
    assert bad.exception.code == "INVALID_BUSINESS"
    found = platform.latest_items.businesses.authenticate(f"Bearer {key}")
    assert found.name == "デモ銀行"


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


def test_the_demo_wallet_signs_a_consent(demo: tuple[Platform, TestClient]) -> None:
    platform, client = demo
    bank = register(platform)
    person = holder(platform)
    other = holder(platform, "佐藤", "次郎")
    demo_card(platform, person, "yamada-hanako", "山田 花子")
    demo_card(platform, other, "sato-jiro", "佐藤 次郎")
    login(platform, client, person.card)
    request_id = ask(client, bank, person)
    token = signing_token(client, request_id)
    page = client.get(f"/consents/requests/{request_id}")
    assert page.status_code == 200
    wallet = client.get(f"/consents/wallet/{token}")
    assert 'action="/consents/wallet/' in wallet.text
    assert "デモ銀行" in wallet.text
    wrong = client.post(
        f"/consents/wallet/{token}", data={"card": "yamada-hanako", "secret": "WRONG999"}
    )
    assert wrong.status_code == 400
    assert "PIN_WRONG" in wrong.text
    theirs = client.post(
        f"/consents/wallet/{token}", data={"card": "sato-jiro", "secret": SIGN_PASSWORD}
    )
    assert theirs.status_code == 400
    assert "SIGNER_NOT_APPLICANT" in theirs.text
    done = client.post(
        f"/consents/wallet/{token}", data={"card": "yamada-hanako", "secret": SIGN_PASSWORD}
    )
    assert done.status_code == 200, done.text
    assert "同意に電子署名して送信しました。" in done.text
    assert "この依頼には同意済みです。" in client.get(f"/consents/requests/{request_id}").text


def test_the_consent_wallet_is_off_outside_the_demo(platform: Platform, client: TestClient) -> None:
    served = {getattr(r, "path", "") for r in client.app.routes}  # type: ignore[attr-defined]
    assert "/consents/wallet/{token}" not in served
    assert "/consents/card/{token}" in served
