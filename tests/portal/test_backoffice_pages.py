"""The back office's pages over HTTP: login and role on every page, CSRF on every form, masked
numbers and handles only, a move within then the card update, the card counter, the staff
register and its log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from backoffice_helpers import (
    KOBE,
    PASSPORT,
    at_the_counter,
    csrf,
    find,
    handles,
    staff,
)
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, MAEBASHI, SIGN_PASSWORD, holder, login, resident

from openmyna.card import CardClient, CardError, CardFile, MemoryTransport, PinRef
from openmyna.card.models import CardStatus
from openmyna.pki import CertStatus
from openmyna.platform import Platform
from openmyna.portal.backoffice.cards import ISSUED_FOLDER
from openmyna.portal.backoffice.staff import Role

NEW_ADDRESS = "群馬県前橋市千代田町二丁目12番1号"
#: Every field any back-office form takes, with a value that passes the form's own checks
#: (so that what refuses a request is the login, the role or the CSRF check, never a field).
ANY_FORM = {
    "name": "山田",
    "address": NEW_ADDRESS,
    "destination": NEW_ADDRESS,
    "on": "2026-04-01",
    "planned_on": "2026-04-01",
    "family_name": "山田",
    "given_name": "花子",
    "family_name_kana": "ヤマダ",
    "given_name_kana": "ハナコ",
    "auth_pin": "1234",
    "card_file": "demo-cards/holder.card",
    "holder_pin": "1234",
    "pin": "auth",
    "new_pin": "5678",
    "from_lg_code": KOBE,
    "resident_code": "12345678901",
    "account_id": "0" * 32,
    "role": "clerk",
    "documents": ["旅券"],
}


def _client(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url="http://127.0.0.1")


def _backoffice_routes(client: TestClient) -> list[APIRoute]:
    return [
        r
        for r in client.app.routes  # type: ignore[attr-defined]
        if isinstance(r, APIRoute) and r.path.startswith("/backoffice")
    ]


def _path(route: APIRoute, handle: str = "0" * 32) -> str:
    return route.path.replace("{lg_code}", MAEBASHI).replace("{handle}", handle)


def test_every_back_office_page_needs_a_login(client: TestClient) -> None:
    routes = _backoffice_routes(client)
    assert len(routes) >= 20
    for route in routes:
        for method in (route.methods or set()) - {"HEAD"}:
            data = ANY_FORM if method == "POST" else None
            went = client.request(method, _path(route), data=data, follow_redirects=False)
            assert went.status_code == 303, (method, route.path)
            assert went.headers["location"].startswith("/login?next=/backoffice"), route.path


def test_a_person_without_a_role_sees_their_staff_id_and_is_refused_the_desk(
    client: TestClient, platform: Platform
) -> None:
    account = login(platform, client, holder(platform).card)
    home = client.get("/backoffice")
    assert home.status_code == 200
    assert "職員としての権限がありません" in home.text
    assert account.account_id[:8] in home.text
    assert 'href="/backoffice"' not in client.get("/").text  # the menu shows it to staff only
    for route in _backoffice_routes(client):
        if route.path == "/backoffice" or "GET" not in (route.methods or set()):
            continue
        refused = client.get(_path(route))
        assert refused.status_code in (403, 405), route.path
        if refused.status_code == 403:
            assert "STAFF_ROLE_REQUIRED" in refused.text, route.path


def test_every_form_needs_the_csrf_token_and_this_site(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.ADMINISTRATOR)
    resident(platform)
    handle = find(client, "山田")
    token = csrf(client.get(f"/backoffice/{MAEBASHI}").text)
    posts = [r for r in _backoffice_routes(client) if "POST" in (r.methods or set())]
    assert len(posts) >= 15
    for route in posts:
        path = _path(route, handle)
        missing = client.post(path, data=ANY_FORM)
        assert missing.status_code == 403, route.path
        assert "CSRF_REFUSED" in missing.text, route.path
        wrong = client.post(path, data={**ANY_FORM, "csrf_token": token[:-2] + "xx"})
        assert wrong.status_code == 403, route.path
        elsewhere = client.post(
            path,
            data={**ANY_FORM, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403, route.path
    assert client.get(f"/backoffice/{MAEBASHI}/residents/{handle}").text.count("山田") >= 1
    entries = platform.backoffice.staff.entries(MAEBASHI)
    assert not any(e.action.startswith("registry.") for e in entries)  # nothing happened


def test_staff_see_the_menu_entry_and_their_municipalities(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    platform.backoffice.staff.grant(KOBE, clerk.member.account_id, Role.SUPERVISOR, "鈴木", by=None)
    assert 'href="/backoffice"' in client.get("/").text
    home = client.get("/backoffice")
    assert "群馬県前橋市" in home.text
    assert "兵庫県神戸市" in home.text
    assert "窓口職員" in home.text
    assert "係長（決裁者）" in home.text
    desk = client.get(f"/backoffice/{MAEBASHI}")
    assert f'href="/backoffice/{MAEBASHI}/staff"' not in desk.text  # not an administrator
    assert client.get(f"/backoffice/{MAEBASHI}/staff").status_code == 403
    assert client.get(f"/backoffice/{MAEBASHI}/log").status_code == 403


def test_search_results_show_masked_numbers_and_handles_only(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.CLERK)
    r = resident(platform, "山田", "花子")
    desk = client.get(f"/backoffice/{MAEBASHI}")
    found = client.post(
        f"/backoffice/{MAEBASHI}/search",
        data={
            "name": "花子",
            "kana": "やまだ",
            "date_of_birth": r.date_of_birth.isoformat(),
            "csrf_token": csrf(desk.text),
        },
    )
    assert found.status_code == 200
    assert f"**** **** {r.individual_number[-4:]}" in found.text
    [handle] = handles(found.text)
    page = client.get(f"/backoffice/{MAEBASHI}/residents/{handle}")
    for text in (found.text, page.text):
        assert r.individual_number not in text
        assert r.resident_code not in text
    assert "山田 花子" in page.text
    nothing = client.post(
        f"/backoffice/{MAEBASHI}/search", data={"name": "", "csrf_token": csrf(desk.text)}
    )
    assert nothing.status_code == 400


def test_a_move_within_then_the_card_update_from_the_page(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.CLERK)
    person = holder(platform, "山田", "花子")
    card_file = at_the_counter(platform, person)
    old_sign = platform.cards.valid_card(person.resident.resident_code)
    assert old_sign is not None
    assert old_sign.sign_cert_serial is not None
    handle = find(client, "山田")
    page = client.get(f"/backoffice/{MAEBASHI}/residents/{handle}")
    token = csrf(page.text)
    moved = client.post(
        f"/backoffice/{MAEBASHI}/residents/{handle}/move-within",
        data={"address": NEW_ADDRESS, "on": "2026-04-01", "csrf_token": token, **PASSPORT},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    after = client.get(moved.headers["location"])
    assert "転居を登録しました" in after.text
    assert "カードの記載事項が古くなっています" in after.text
    assert 'value="demo-cards/holder.card" selected' in after.text  # the holder's card found
    wrong_pin = client.post(
        f"/backoffice/{MAEBASHI}/residents/{handle}/card/update",
        data={
            "card_file": "demo-cards/holder.card",
            "holder_pin": "9999",
            "sign_password": "NEWPASS123",
            "csrf_token": token,
            **PASSPORT,
        },
    )
    assert wrong_pin.status_code == 401
    assert "暗証番号が違います" in wrong_pin.text
    assert "残り" in wrong_pin.text
    updated = client.post(
        f"/backoffice/{MAEBASHI}/residents/{handle}/card/update",
        data={
            "card_file": "demo-cards/holder.card",
            "holder_pin": AUTH_PIN,
            "sign_password": "NEWPASS123",
            "csrf_token": token,
            **PASSPORT,
        },
    )
    assert updated.status_code == 200, updated.text
    assert "カードを更新しました" in updated.text
    assert old_sign.sign_cert_serial in updated.text
    with CardFile.open(card_file, settings=platform.settings) as f:
        chip = CardClient(MemoryTransport(f.card)).read_text_data(AUTH_PIN)
        assert chip.items.address == NEW_ADDRESS
        assert chip.intact
        assert [e.text for e in f.surface.endorsements] == [NEW_ADDRESS]
    platform.sync_once()
    revoked = platform.jpki.record(int(old_sign.sign_cert_serial, 16))
    assert revoked.status is CertStatus.REVOKED
    record = platform.cards.valid_card(person.resident.resident_code)
    assert record is not None
    assert not record.data_stale
    assert record.sign_cert_serial not in (None, old_sign.sign_cert_serial)
    [done] = [e for e in platform.backoffice.staff.entries(MAEBASHI) if e.action == "card.update"][
        :1
    ]
    assert done.outcome == "done"


def test_another_persons_card_file_is_refused_at_the_update(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.CLERK)
    person = holder(platform, "山田", "花子")
    someone = holder(platform, "佐藤", "次郎")
    at_the_counter(platform, someone, "someone.card")
    handle = find(client, "山田")
    token = csrf(client.get(f"/backoffice/{MAEBASHI}/residents/{handle}").text)
    client.post(
        f"/backoffice/{MAEBASHI}/residents/{handle}/move-within",
        data={"address": NEW_ADDRESS, "on": "2026-04-01", "csrf_token": token, **PASSPORT},
    )
    for card_file, code in (
        ("demo-cards/someone.card", "COUNTER_CARD_NOT_THE_HOLDERS"),
        ("demo-cards/../someone.card", "COUNTER_CARD_NOT_FOUND"),
        ("/etc/passwd", "COUNTER_CARD_NOT_FOUND"),
    ):
        refused = client.post(
            f"/backoffice/{MAEBASHI}/residents/{handle}/card/update",
            data={
                "card_file": card_file,
                "holder_pin": AUTH_PIN,
                "csrf_token": token,
                "no_sign_cert": "true",
                **PASSPORT,
            },
        )
        assert code in refused.text, card_file
    record = platform.cards.valid_card(person.resident.resident_code)
    assert record is not None
    assert record.data_stale


def test_the_card_counter_issues_hands_over_resets_suspends_and_takes_back(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.CLERK)
    r = resident(platform, "山田", "花子")
    handle = find(client, "山田")
    base = f"/backoffice/{MAEBASHI}/residents/{handle}"
    token = csrf(client.get(base).text)
    applied = client.post(f"{base}/card/apply", data={"csrf_token": token}, follow_redirects=False)
    assert applied.headers["location"].endswith("done=applied")
    assert "山田 花子" in client.get(f"/backoffice/{MAEBASHI}/cards").text
    no_documents = client.post(
        f"{base}/card/issue",
        data={"auth_pin": "4321", "sign_password": SIGN_PASSWORD, "csrf_token": token},
    )
    assert no_documents.status_code == 400
    assert "IDENTITY_CHECK_REQUIRED" in no_documents.text
    issued = client.post(
        f"{base}/card/issue",
        data={"auth_pin": "4321", "sign_password": SIGN_PASSWORD, "csrf_token": token, **PASSPORT},
        follow_redirects=False,
    )
    assert issued.status_code == 303, issued.text
    card = platform.cards.valid_card(r.resident_code)
    assert card is not None
    assert card.status is CardStatus.ACTIVE
    handed = platform.settings.data_dir / ISSUED_FOLDER / f"{card.card_id}.card"
    page = client.get(issued.headers["location"])
    assert "カードを交付し、お渡ししました" in page.text
    assert f"{ISSUED_FOLDER}/{card.card_id}.card" in page.text
    _lock_the_auth_pin(platform, handed)
    reset = client.post(
        f"{base}/card/pin-reset",
        data={
            "card_file": f"{ISSUED_FOLDER}/{card.card_id}.card",
            "pin": "auth",
            "new_pin": "5678",
            "csrf_token": token,
            **PASSPORT,
        },
        follow_redirects=False,
    )
    assert reset.headers["location"].endswith("done=pin_reset"), reset.text
    with CardFile.open(handed, settings=platform.settings) as f:
        assert CardClient(MemoryTransport(f.card)).tries_left(PinRef.AUTH) == 3
    for action, data, status in (
        ("suspend", {}, CardStatus.SUSPENDED),
        ("lift", PASSPORT, CardStatus.ACTIVE),
        ("return", PASSPORT, CardStatus.RETURNED),
    ):
        went = client.post(
            f"{base}/card/{action}", data={"csrf_token": token, **data}, follow_redirects=False
        )
        assert went.status_code == 303, (action, went.text)
        assert platform.cards.card(card.card_id).status is status, action
    actions = [e.action for e in reversed(platform.backoffice.staff.entries(MAEBASHI))]
    for action in ("card.apply", "card.issue", "card.pin_reset", "card.suspend", "card.return"):
        assert action in actions


def _lock_the_auth_pin(platform: Platform, path: Path) -> None:
    with CardFile.open(path, settings=platform.settings) as f:
        chip = CardClient(MemoryTransport(f.card))
        for _ in range(3):
            with pytest.raises(CardError):  # PIN_WRONG twice, then PIN_LOCKED
                chip.verify(PinRef.AUTH, "0000")
        assert chip.tries_left(PinRef.AUTH) == 0


def test_a_move_out_here_then_a_move_in_at_kobe_with_the_certificate(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.CLERK)
    r = resident(platform, "山田", "花子")
    platform.registries.add_municipality(KOBE)
    handle = find(client, "山田")
    base = f"/backoffice/{MAEBASHI}/residents/{handle}"
    token = csrf(client.get(base).text)
    out = client.post(
        f"{base}/move-out",
        data={
            "destination": "兵庫県神戸市中央区加納町六丁目5番1号",
            "destination_lg_code": KOBE,
            "planned_on": "2026-04-05",
            "csrf_token": token,
            **PASSPORT,
        },
        follow_redirects=False,
    )
    assert out.status_code == 303, out.text
    slip = client.get(out.headers["location"])
    assert "転出証明書" in slip.text
    assert r.resident_code in slip.text
    assert r.individual_number not in slip.text
    kobe = _client(client)
    staff(platform, kobe, Role.CLERK, KOBE, family="田中", given="二郎")
    start = kobe.get(f"/backoffice/{KOBE}/move-in")
    certificate = kobe.post(
        f"/backoffice/{KOBE}/move-in/certificate",
        data={
            "from_lg_code": MAEBASHI,
            "resident_code": r.resident_code,
            "csrf_token": csrf(start.text),
        },
    )
    assert certificate.status_code == 200, certificate.text
    assert "山田 花子" in certificate.text
    assert r.resident_code not in certificate.text
    [move] = re.findall(rf"/backoffice/{KOBE}/move-in/([0-9a-f]{{32}})", certificate.text)
    moved_in = kobe.post(
        f"/backoffice/{KOBE}/move-in/{move}",
        data={
            "address": "兵庫県神戸市中央区加納町六丁目5番1号",
            "on": "2026-04-01",
            "csrf_token": csrf(start.text),
            **PASSPORT,
        },
        follow_redirects=False,
    )
    assert moved_in.status_code == 303, moved_in.text
    assert "転入を登録しました" in kobe.get(moved_in.headers["location"]).text
    assert platform.registries.municipality(KOBE).get(r.resident_code).is_current
    assert (
        client.post(  # Maebashi's clerk cannot use Kobe's desk
            f"/backoffice/{KOBE}/move-in/certificate",
            data={"from_lg_code": MAEBASHI, "resident_code": r.resident_code, "csrf_token": token},
        ).status_code
        == 403
    )


def test_a_rename_and_bad_input_stay_on_the_page_escaped(
    client: TestClient, platform: Platform
) -> None:
    staff(platform, client, Role.CLERK)
    resident(platform, "山田", "花子")
    handle = find(client, "山田")
    base = f"/backoffice/{MAEBASHI}/residents/{handle}"
    token = csrf(client.get(base).text)
    xss = client.post(
        f"{base}/move-within",
        data={
            "address": '<script>alert("x")</script>町',
            "on": "2026-04-01",
            "csrf_token": token,
            **PASSPORT,
        },
        follow_redirects=True,
    )
    assert "<script>alert" not in xss.text
    assert "&lt;script&gt;" in xss.text
    too_long = client.post(
        f"{base}/move-within",
        data={"address": "あ" * 201, "on": "2026-04-01", "csrf_token": token, **PASSPORT},
    )
    assert too_long.status_code == 400
    future = client.post(
        f"{base}/move-within",
        data={"address": NEW_ADDRESS, "on": "2027-01-01", "csrf_token": token, **PASSPORT},
    )
    assert future.status_code == 400
    assert "INVALID_DATE" in future.text
    renamed = client.post(
        f"{base}/rename",
        data={
            "family_name": "佐藤",
            "family_name_kana": "サトウ",
            "given_name": "花子",
            "given_name_kana": "ハナコ",
            "keep_former_surname": "true",
            "on": "2026-04-01",
            "csrf_token": token,
            **PASSPORT,
        },
        follow_redirects=True,
    )
    assert "氏名の変更を登録しました" in renamed.text
    assert "佐藤 花子" in renamed.text
    assert "旧氏" in renamed.text
    assert client.get("/backoffice/102016/residents/not-a-handle").status_code == 404


def test_the_administrator_grants_on_the_page_and_reads_the_log(
    client: TestClient, platform: Platform
) -> None:
    admin = staff(platform, client, Role.ADMINISTRATOR)
    other = _client(client)
    person = login(platform, other, holder(platform, "佐藤", "花").card)
    r = resident(platform)
    page = client.get(f"/backoffice/{MAEBASHI}/staff")
    assert page.status_code == 200
    assert "鈴木 一郎" in page.text
    grouped = " ".join(person.account_id[i : i + 8] for i in range(0, 32, 8))
    granted = client.post(
        f"/backoffice/{MAEBASHI}/staff/grant",
        data={
            "account_id": grouped,
            "role": "clerk",
            "name": "佐藤 花",
            "csrf_token": csrf(page.text),
        },
        follow_redirects=True,
    )
    assert "佐藤 花" in granted.text
    assert other.get(f"/backoffice/{MAEBASHI}").status_code == 200  # the new clerk's desk
    find(other, "山田")
    bad_role = client.post(
        f"/backoffice/{MAEBASHI}/staff/grant",
        data={
            "account_id": person.account_id,
            "role": "mayor",
            "name": "x",
            "csrf_token": csrf(page.text),
        },
    )
    assert bad_role.status_code == 400
    assert "STAFF_ROLE_UNKNOWN" in bad_role.text
    own = client.post(
        f"/backoffice/{MAEBASHI}/staff/revoke",
        data={"account_id": admin.member.account_id, "csrf_token": csrf(page.text)},
    )
    assert own.status_code == 409
    assert "STAFF_OWN_GRANT" in own.text
    client.post(
        f"/backoffice/{MAEBASHI}/staff/revoke",
        data={"account_id": person.account_id, "csrf_token": csrf(page.text)},
    )
    assert other.get(f"/backoffice/{MAEBASHI}").status_code == 403
    log = client.get(f"/backoffice/{MAEBASHI}/log")
    assert log.status_code == 200
    for action in ("staff.grant", "staff.revoke", "resident.search", "refused.read_residents"):
        assert action in log.text, action
    assert "佐藤 花" in log.text
    assert r.resident_code not in log.text
