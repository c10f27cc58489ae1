"""お知らせ (P4): posting with the agency's own code, a person's own notices only, the pages."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from notice_helpers import MAEBASHI_AGENCY, agency_code, post
from portal_helpers import authenticate, holder, login, resident

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.network.errors import IdempotencyConflict, UnknownCode
from openmyna.platform import Platform
from openmyna.portal.notices.errors import InvalidNotice, NoticeNotFound, NoticeSenderRefused
from openmyna.portal.notices.tables import NOTICES_BODY, NOTICES_KIND, metadata, notices
from openmyna.store import open_store


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = open_store(settings, NOTICES_KIND, NOTICES_BODY)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
    finally:
        store.close()


def test_a_notice_is_kept_under_the_portals_own_code_and_never_the_senders(
    platform: Platform,
) -> None:
    person = resident(platform)
    posted = post(platform, person)
    assert posted.created
    sender_code = agency_code(platform, person)
    portal_code = platform.network.hub.codes.translate(MAEBASHI_AGENCY, sender_code, "myna-portal")
    with platform.portal.notices.store.transaction() as s:
        row = s.execute(notices.select()).mappings().one()
    assert row["portal_code"] == portal_code != sender_code
    assert person.individual_number not in str(dict(row))
    assert sender_code not in str(dict(row))
    assert row["sender"] == MAEBASHI_AGENCY


def test_a_repeated_post_is_the_same_notice_and_a_reused_key_is_refused(
    platform: Platform,
) -> None:
    person = resident(platform)
    first = post(platform, person, key="tax-2026-000001")
    again = post(platform, person, key="tax-2026-000001")
    assert again.notice_id == first.notice_id
    assert (first.created, again.created) == (True, False)
    with pytest.raises(IdempotencyConflict):
        post(platform, person, key="tax-2026-000001", title="別のお知らせ")
    # Another agency may use the same key for its own notice.
    other = post(platform, person, key="tax-2026-000001", agency="nenkin")
    assert other.created
    assert other.notice_id != first.notice_id
    with platform.portal.notices.store.transaction() as s:
        assert len(s.execute(notices.select()).all()) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "あ" * 101),
        ("title", "二行の\n件名"),
        ("body", "い" * 4001),
        ("body", "制御文字\x07"),
        ("body", "向きを変える\u202e文字"),
        ("category", "unknown"),
        ("link", "https://evil.example/pay"),
        ("link", "//evil.example/payments/1"),
        ("link", "/payments/1?next=//evil.example"),
        ("link", "/account"),
        ("idempotency_key", "short"),
    ],
)
def test_a_notice_breaking_the_rules_is_refused(platform: Platform, field: str, value: str) -> None:
    person = resident(platform)
    fields = {"title": "件名", "body": "本文", "category": "tax", "link": None}
    fields[field] = value
    key = value if field == "idempotency_key" else "rules-000001"
    kwargs = {k: v for k, v in fields.items() if k != "idempotency_key"}
    with pytest.raises(InvalidNotice) as refused:
        platform.portal.notices.post(
            MAEBASHI_AGENCY,
            agency_code(platform, person),
            idempotency_key=key,
            **kwargs,  # type: ignore[arg-type]
        )
    assert field in refused.value.context["fields"]
    assert value not in refused.value.diagnostics() or value == ""


def test_the_limits_themselves_are_accepted(platform: Platform) -> None:
    person = resident(platform)
    posted = post(
        platform, person, title="あ" * 100, body="い" * 4000, link="/payments/pay-2026_01"
    )
    assert posted.created


def test_only_agencies_of_the_directory_post_and_codes_must_be_theirs(
    platform: Platform,
) -> None:
    person = resident(platform)
    notices = platform.portal.notices
    code = agency_code(platform, person)
    common = {"title": "件名", "body": "本文", "category": "tax", "idempotency_key": "who-00000001"}
    for sender in ("hub", "lg-999999", "myna-portal", ""):
        with pytest.raises(NoticeSenderRefused):
            notices.post(sender, code, **common)
    with pytest.raises(UnknownCode):  # another agency's code is not the sender's
        notices.post("nenkin", code, **common)
    with pytest.raises(UnknownCode):
        notices.post(MAEBASHI_AGENCY, "a" * 26, **common)


def test_a_person_sees_only_their_own_notices(platform: Platform, client: TestClient) -> None:
    hanako = holder(platform)
    taro = holder(platform, "佐藤", "太郎")
    mine = post(platform, hanako.resident, title="花子さんへのお知らせ")
    theirs = post(platform, taro.resident, title="太郎さんへのお知らせ")
    account = login(platform, client, hanako.card)
    notices = platform.portal.notices
    listing = notices.page(account.account_id)
    assert [n.notice_id for n in listing.notices] == [mine.notice_id]
    with pytest.raises(NoticeNotFound):
        notices.open(account.account_id, theirs.notice_id)
    page = client.get("/notices")
    assert "花子さんへのお知らせ" in page.text
    assert "太郎さんへのお知らせ" not in page.text
    # Another person's notice by id is the same 404 as one that does not exist.
    other = client.get(f"/notices/{theirs.notice_id}")
    missing = client.get("/notices/" + "0" * 32)
    odd = client.get("/notices/..%2F..%2Fetc")
    assert other.status_code == missing.status_code == 404
    assert odd.status_code == 404
    assert other.text.replace(theirs.notice_id, "") == missing.text.replace("0" * 32, "")
    assert "太郎さんへのお知らせ" not in other.text
    # Opening it did not mark it read for its owner.
    taro_account = platform.portal.accounts.for_login(authenticate(platform, taro.card))
    assert notices.unread_count(taro_account.account_id) == 1


def test_the_list_is_newest_first_paged_and_counts_the_unread(
    platform: Platform, client: TestClient, clock: FixedClock
) -> None:
    person = holder(platform)
    posted = []
    for i in range(23):
        posted.append(post(platform, person.resident, title=f"お知らせ その{i + 1}"))
        clock.advance(dt.timedelta(minutes=1))
    account = login(platform, client, person.card)
    first = client.get("/notices")
    assert "未読のお知らせが23件あります。" in first.text
    titles = re.findall(r'<span class="notice-title">([^<]+)</span>', first.text)
    assert titles[:2] == ["お知らせ その23", "お知らせ その22"]
    assert len(titles) == 20
    assert 'href="/notices?page=2"' in first.text
    second = client.get("/notices", params={"page": 2})
    assert re.findall(r'<span class="notice-title">([^<]+)</span>', second.text) == [
        "お知らせ その3",
        "お知らせ その2",
        "お知らせ その1",
    ]
    assert client.get("/notices", params={"page": 99}).status_code == 200  # the last page
    assert client.get("/notices", params={"page": 0}).status_code == 400
    # The menu carries the count on every page.
    home = client.get("/")
    assert '<span class="badge" aria-hidden="true">23</span>' in home.text
    assert "（未読23件）" in home.text
    opened = client.get(f"/notices/{posted[0].notice_id}")
    assert opened.status_code == 200
    assert "お知らせ その1" in opened.text
    assert platform.portal.notices.unread_count(account.account_id) == 22
    assert '<span class="badge" aria-hidden="true">22</span>' in client.get("/").text
    client.get(f"/notices/{posted[0].notice_id}")  # opened again: still read, once
    assert platform.portal.notices.unread_count(account.account_id) == 22


def test_no_badge_without_unread_notices(platform: Platform, client: TestClient) -> None:
    person = holder(platform)
    login(platform, client, person.card)
    assert 'class="badge"' not in client.get("/").text
    assert "お知らせはまだありません。" in client.get("/notices").text


def test_title_and_body_are_escaped_and_links_go_only_to_the_portal(
    platform: Platform, client: TestClient
) -> None:
    person = holder(platform)
    script = '<script>alert("x")</script>'
    posted = post(
        platform,
        person.resident,
        title=f"件名{script}",
        body=f'本文<img src=x onerror="alert(1)">\n{script}',
        link="/payments/pay-123",
        category="payment",
    )
    login(platform, client, person.card)
    for url in ("/notices", f"/notices/{posted.notice_id}"):
        page = client.get(url)
        assert script not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text
    detail = client.get(f"/notices/{posted.notice_id}")
    assert 'href="/payments/pay-123"' in detail.text
    assert "お支払いへ進む" in detail.text
    assert "令和8年4月1日 09:00" in detail.text  # Japan time, the era


def test_the_page_needs_a_login_and_shows_in_english(
    platform: Platform, client: TestClient
) -> None:
    went = client.get("/notices", follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"] == "/login?next=/notices"
    person = holder(platform)
    post(platform, person.resident, category="childcare")
    login(platform, client, person.card)
    client.get("/lang/en")
    page = client.get("/notices")
    assert "You have 1 unread notice(s)." in page.text
    assert "Child care" in page.text
    assert " (1 unread)" in page.text


def test_nothing_about_the_person_reaches_the_log(
    platform: Platform, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = holder(platform)
    posted = post(platform, person.resident)
    login(platform, client, person.card)
    client.get("/notices")
    client.get(f"/notices/{posted.notice_id}")
    with pytest.raises(OpenMynaError):
        post(platform, person.resident, title="x" * 500)
    text = caplog.text + repr(
        platform.portal.notices.page(login(platform, client, person.card).account_id)
    )
    for secret in (person.resident.individual_number, "住民税の納税通知書", "納期限"):
        assert secret not in text
