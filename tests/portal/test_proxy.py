"""代理人 (P8): grants by invitation code, acting within the scope, the proxy log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from notice_helpers import post
from portal_helpers import holder, login
from proxy_helpers import act, acting_pair, csrf, grant, pair, redeem
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from openmyna.card.login import REQUEST_PATH
from openmyna.clock import JST, FixedClock
from openmyna.platform import Platform
from openmyna.portal.pages import PageRoute
from openmyna.portal.proxy.errors import ProxyNotAllowed
from openmyna.portal.proxy.scopes import Kind, allowed, rule_for
from openmyna.portal.proxy.service import GrantStatus
from openmyna.portal.sessions import COOKIE
from openmyna.portal.tables import proxy_log

BANNER = "母 花子 さんの代理人として利用しています"
REFUSED = "このページは代理人として利用できません"
ENDED = "代理人としての利用は終了しました"


def _log(platform: Platform, principal_id: str) -> list[tuple[str, str, str, str]]:
    return [
        (e.action, e.outcome, e.method, e.path)
        for e in reversed(platform.portal.proxies.log_for(principal_id))
    ]


# -- the path map ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "scopes", "expected"),
    [
        ("GET", "/notices", {"notices"}, True),
        ("GET", "/notices/abc", {"notices"}, True),
        ("POST", "/notices/delivery", {"notices"}, False),
        ("GET", "/notices/delivery", {"notices"}, False),
        ("GET", "/notices", {"payments"}, False),
        ("GET", "/records", {"records"}, True),
        ("GET", "/records/export.csv", {"records"}, True),
        ("GET", "/my-data/tax", {"my_data"}, True),
        ("GET", "/my-data", {"records"}, False),
        ("GET", "/services/drafts/d1", {"applications"}, True),
        ("POST", "/services/drafts/d1/sign", {"applications"}, False),
        ("POST", "/services/drafts/d1/prefill", {"applications"}, False),
        ("GET", "/services/drafts/d1/card/r1", {"applications"}, False),
        ("GET", "/applications/a1", {"applications"}, True),
        ("GET", "/payment-provider/checkout/x", {"payments"}, True),
        ("GET", "/account", set(), False),
        ("GET", "/account", {"records", "my_data", "notices", "applications", "payments"}, False),
        ("POST", "/account/sessions/end", {"notices"}, False),
        ("GET", "/backoffice", {"notices"}, False),
        ("GET", "/backoffice/102016/residents", {"notices"}, False),
        ("GET", "/wallet", {"notices"}, False),
        ("GET", "/login", {"notices"}, False),
        ("GET", "/a-page-added-later", {"notices"}, False),
        ("GET", "/notices/../account", {"notices"}, False),
        ("GET", "/", set(), True),
        ("POST", "/", set(), False),
        ("POST", "/logout", set(), True),
        ("GET", "/lang/en", set(), True),
        ("GET", "/proxy", set(), True),
        ("GET", "/proxy/anything", set(), False),
        ("POST", "/proxy", set(), False),
        ("POST", "/proxy/grants", {"notices"}, False),
        ("POST", "/proxy/redeem", {"notices"}, False),
        ("POST", "/proxy/act", {"notices"}, False),
        ("POST", "/proxy/grants/g1/revoke", {"notices"}, False),
        ("POST", "/proxy/stop", set(), True),
        ("GET", "/proxy/stop", set(), False),
        ("GET", "/statistics/cards.csv", set(), True),
    ],
)
def test_the_path_map_is_default_deny(
    method: str, path: str, scopes: set[str], expected: bool
) -> None:
    assert allowed(method, path, frozenset(scopes))[0] is expected


def test_a_path_in_no_entry_has_no_rule() -> None:
    assert rule_for("GET", "/account") is None
    rule = rule_for("POST", "/services/drafts/x/sign")
    assert rule is not None
    assert rule.kind is Kind.DENY


# -- granting and redeeming --------------------------------------------------------------


def test_a_grant_is_redeemed_once_by_the_proxy_with_their_own_card(
    client: TestClient, platform: Platform
) -> None:
    p = pair(platform, client)
    code = grant(platform, p.principal, ["notices", "payments"])
    assert code.count("-") == 3
    assert not code.replace("-", "").isdigit()
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    assert made.status(platform.clock.now()) is GrantStatus.INVITED
    assert made.proxy_id is None
    assert code not in p.principal.get("/proxy").text  # shown once, kept only as a hash

    assert redeem(p.proxy, code.lower().replace("-", " ")) == 303  # as typed
    [held] = platform.portal.proxies.held(p.proxy_account.account_id)
    assert held.grant_id == made.grant_id
    assert held.status(platform.clock.now()) is GrantStatus.ACTIVE
    page = p.proxy.get("/proxy").text
    assert "母 花子" in page
    assert "代理人として利用する" in page
    assert "長男 一郎" in p.principal.get("/proxy").text

    # Replayed: by the same proxy, or by someone else who saw the code.
    assert redeem(p.proxy, code) == 409
    third = TestClient(client.app, base_url="http://127.0.0.1")
    login(platform, third, holder(platform, "鈴木", "三郎").card)
    assert redeem(third, code) == 409
    assert (
        "使用済みか、期限切れです"
        in third.post(
            "/proxy/redeem", data={"code": code, "csrf_token": csrf(third.get("/proxy").text)}
        ).text
    )
    assert platform.portal.proxies.held(p.proxy_account.account_id)[0].proxy_id == (
        p.proxy_account.account_id
    )


def test_an_invitation_expires_and_no_one_is_their_own_proxy(
    client: TestClient, platform: Platform, clock: FixedClock
) -> None:
    p = pair(platform, client)
    own = grant(platform, p.principal, ["notices"])
    assert redeem(p.principal, own) == 409
    assert redeem(p.proxy, "ABCD-EFGH-JKMN-PQRS") == 409
    code = grant(platform, p.principal, ["notices"])
    clock.advance(dt.timedelta(hours=72, seconds=1))
    login(platform, p.proxy, holder(platform, "田中", "四郎").card)  # sessions idled out
    assert redeem(p.proxy, code) == 409
    statuses = {
        g.status(clock.now()) for g in platform.portal.proxies.given(p.principal_account.account_id)
    }
    assert statuses == {GrantStatus.INVITATION_EXPIRED}


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"scopes": []}, "任せる範囲を一つ以上選んでください"),
        ({"scopes": ["account"]}, "任せる範囲を一つ以上選んでください"),
        ({"last_day": "2027-04-02"}, "最終日は今日から1年以内"),
        ({"last_day": "2026-03-31"}, "最終日は今日から1年以内"),
        ({"last_day": "not-a-day"}, "最終日は今日から1年以内"),
        ({"proxy_label": "   "}, "文字以内で入力してください"),
        ({"proxy_label": "あ" * 41}, "文字以内で入力してください"),
        ({"principal_label": "a\u0000b"}, "文字以内で入力してください"),
    ],
)
def test_a_bad_grant_form_is_refused_with_its_reason(
    client: TestClient, platform: Platform, form: dict[str, object], error: str
) -> None:
    p = pair(platform, client)
    data: dict[str, object] = {
        "proxy_label": "長男",
        "principal_label": "母",
        "scopes": ["notices"],
        "last_day": "2026-05-01",
        "csrf_token": csrf(p.principal.get("/proxy").text),
        **form,
    }
    refused = p.principal.post("/proxy/grants", data=data)
    assert refused.status_code == 400
    assert error in refused.text
    assert platform.portal.proxies.given(p.principal_account.account_id) == []


def test_a_year_is_the_longest_grant(client: TestClient, platform: Platform) -> None:
    p = pair(platform, client)
    grant(platform, p.principal, ["records"], last_day=dt.date(2027, 4, 1))
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    assert made.last_day == dt.date(2027, 4, 1)
    assert made.expires_at == dt.datetime(2027, 4, 2, tzinfo=JST)


def test_oversized_and_malformed_forms_are_refused(client: TestClient, platform: Platform) -> None:
    p = pair(platform, client)
    token = csrf(p.principal.get("/proxy").text)
    huge = p.principal.post(
        "/proxy/grants",
        data={
            "proxy_label": "x" * 5000,
            "principal_label": "y",
            "scopes": ["notices"],
            "last_day": "2026-05-01",
            "csrf_token": token,
        },
    )
    assert huge.status_code == 400
    assert (
        p.principal.post("/proxy/redeem", data={"code": "A" * 500, "csrf_token": token}).status_code
        == 400
    )
    assert (
        p.principal.post(
            "/proxy/act", data={"grant_id": "x" * 500, "csrf_token": token}
        ).status_code
        == 400
    )
    assert platform.portal.proxies.given(p.principal_account.account_id) == []


# -- acting ------------------------------------------------------------------------------


def test_a_proxy_acts_within_the_scope_and_the_principal_sees_it(
    client: TestClient, platform: Platform
) -> None:
    p = acting_pair(platform, client, ["notices", "payments"])
    home = p.proxy.get("/")
    assert BANNER in home.text
    assert 'href="/notices"' in home.text
    assert 'href="/payments"' in home.text
    for hidden in ("/account", "/services", "/backoffice"):
        assert f'href="{hidden}"' not in home.text  # the menu shows only the scope
    notices = p.proxy.get("/notices")
    assert notices.status_code == 200
    assert BANNER in notices.text
    assert p.proxy.get("/payments").status_code == 200

    log = _log(platform, p.principal_account.account_id)
    assert ("start", "allowed", "POST", "") in log
    assert ("request", "allowed", "GET", "/notices") in log
    assert ("request", "allowed", "GET", "/payments") in log
    page = p.principal.get("/proxy").text
    assert "GET /notices" in page
    assert "長男 一郎" in page
    assert BANNER not in page  # the principal is themselves

    # The proxy's own page while acting: no principal's settings or log, a way back.
    own = p.proxy.get("/proxy").text
    assert "代理人として利用中です" in own
    assert "GET /notices" not in own
    assert 'action="/proxy/grants"' not in own

    stopped = p.proxy.post("/proxy/stop", data={"csrf_token": csrf(own)}, follow_redirects=False)
    assert stopped.status_code == 303
    assert BANNER not in p.proxy.get("/").text
    assert p.proxy.get("/account").status_code == 200  # their own again
    assert _log(platform, p.principal_account.account_id)[-1][0] == "stop"


def test_the_pages_show_the_principals_data(client: TestClient, platform: Platform) -> None:
    p = pair(platform, client)
    post(platform, p.principal_resident, title="母への住民税のお知らせ")
    post(platform, p.proxy_resident, title="一郎への保険料のお知らせ")
    assert redeem(p.proxy, grant(platform, p.principal, ["notices"])) == 303
    assert "一郎への保険料のお知らせ" in p.proxy.get("/notices").text  # as themselves
    act(platform, p)
    listed = p.proxy.get("/notices").text
    assert "母への住民税のお知らせ" in listed
    assert "一郎への保険料のお知らせ" not in listed
    for text in (listed, p.principal.get("/proxy").text):
        assert p.principal_resident.individual_number not in text
        assert p.proxy_resident.individual_number not in text

    session = platform.portal.sessions.current(p.proxy.cookies.get(COOKIE))
    assert session.account_id == p.proxy_account.account_id  # as stored: the proxy's own
    assert session.acting_for == p.principal_account.account_id
    admitted = platform.portal.proxies.admit(session, "GET", "/notices")
    assert admitted.account_id == p.principal_account.account_id
    assert admitted.own_account_id == p.proxy_account.account_id
    assert admitted.acting is not None
    assert admitted.acting.principal_label == "母 花子"


def test_outside_the_scope_is_refused_and_logged(client: TestClient, platform: Platform) -> None:
    p = acting_pair(platform, client, ["notices"])
    token = csrf(p.proxy.get("/").text)
    for method, path in [
        ("GET", "/account"),
        ("GET", "/payments"),
        ("GET", "/services"),
        ("GET", "/backoffice"),
    ]:
        refused = p.proxy.request(method, path)
        assert refused.status_code == 403, path
        assert REFUSED in refused.text
        assert BANNER in refused.text
        assert 'action="/proxy/stop"' in refused.text
        assert "ログイン履歴" not in refused.text
    language = p.proxy.post("/account/language", data={"language": "en", "csrf_token": token})
    assert language.status_code == 403
    assert platform.portal.accounts.get(p.principal_account.account_id).language == "ja"
    ended = p.proxy.post("/account/sessions/end", data={"session_id": "x", "csrf_token": token})
    assert ended.status_code == 403
    forwarding = p.proxy.post("/notices/delivery", data={"service": "x", "csrf_token": token})
    assert forwarding.status_code == 403  # the principal's setting, though notices are given
    log = _log(platform, p.principal_account.account_id)
    for entry in [
        ("request", "refused", "GET", "/account"),
        ("request", "refused", "GET", "/payments"),
        ("request", "refused", "POST", "/account/language"),
        ("request", "refused", "POST", "/account/sessions/end"),
    ]:
        assert entry in log
    assert "拒否" in p.principal.get("/proxy").text
    # The proxy is still acting (a refusal does not end it) and can go back to themselves.
    assert p.proxy.get("/notices").status_code == 200


def test_a_proxy_cannot_see_the_principals_account_or_login_history(
    client: TestClient, platform: Platform
) -> None:
    p = acting_pair(platform, client, ["records", "my_data", "notices", "applications", "payments"])
    refused = p.proxy.get("/account")
    assert refused.status_code == 403
    assert "ログイン中のセッション" not in refused.text
    assert p.principal_account.portal_code not in refused.text


def test_a_proxy_cannot_grant_redeem_or_revoke_for_the_principal(
    client: TestClient, platform: Platform
) -> None:
    p = acting_pair(platform, client, ["notices"])
    token = csrf(p.proxy.get("/").text)
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    further = p.proxy.post(
        "/proxy/grants",
        data={
            "proxy_label": "x",
            "principal_label": "y",
            "scopes": ["notices"],
            "last_day": "2026-05-01",
            "csrf_token": token,
        },
    )
    assert further.status_code == 403
    assert (
        p.proxy.post(
            f"/proxy/grants/{made.grant_id}/revoke", data={"csrf_token": token}
        ).status_code
        == 403
    )
    assert p.proxy.post("/proxy/redeem", data={"code": "x", "csrf_token": token}).status_code == 403
    assert (
        p.proxy.post(
            "/proxy/act", data={"grant_id": made.grant_id, "csrf_token": token}
        ).status_code
        == 403
    )
    proxies = platform.portal.proxies
    assert len(proxies.given(p.principal_account.account_id)) == 1
    assert proxies.given(p.proxy_account.account_id) == []
    assert proxies.given(p.principal_account.account_id)[0].revoked_at is None

    # The service refuses too, whatever page would ask it.
    session = platform.portal.sessions.current(p.proxy.cookies.get(COOKIE))
    admitted = proxies.admit(session, "GET", "/")
    for attempt in (
        lambda: proxies.create(
            admitted,
            proxy_label="x",
            principal_label="y",
            scopes=["notices"],
            last_day=dt.date(2026, 5, 1),
        ),
        lambda: proxies.revoke(admitted, made.grant_id),
        lambda: proxies.redeem(session, "ABCD"),
        lambda: proxies.act(session, made.grant_id),
    ):
        with pytest.raises(ProxyNotAllowed):
            attempt()


def test_revoked_mid_session_takes_effect_on_the_next_request(
    client: TestClient, platform: Platform
) -> None:
    p = acting_pair(platform, client, ["notices"])
    assert p.proxy.get("/notices").status_code == 200
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    page = p.principal.get("/proxy").text
    revoked = p.principal.post(
        f"/proxy/grants/{made.grant_id}/revoke",
        data={"csrf_token": csrf(page)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert "取消し済み" in p.principal.get("/proxy").text
    ended = p.proxy.get("/notices")
    assert ended.status_code == 403
    assert ENDED in ended.text
    assert BANNER not in ended.text
    assert ("ended", "refused", "GET", "/notices") in _log(platform, p.principal_account.account_id)
    # Back to themselves: their own account page, and the grant cannot be acted under again.
    assert p.proxy.get("/account").status_code == 200
    again = p.proxy.post(
        "/proxy/act",
        data={"grant_id": made.grant_id, "csrf_token": csrf(p.proxy.get("/proxy").text)},
    )
    assert again.status_code == 409
    assert "代理人として利用する</button>" not in p.proxy.get("/proxy").text


def test_an_expired_grant_ends_at_the_end_of_its_last_day(
    client: TestClient, platform: Platform, clock: FixedClock
) -> None:
    clock.set(dt.datetime(2026, 4, 1, 23, 50, tzinfo=JST))
    p = pair(platform, client)
    assert redeem(p.proxy, grant(platform, p.principal, ["notices"], last_day=clock.today())) == 303
    act(platform, p)
    assert p.proxy.get("/notices").status_code == 200
    clock.advance(dt.timedelta(minutes=9, seconds=59))
    assert p.proxy.get("/notices").status_code == 200
    clock.advance(dt.timedelta(seconds=1))  # 2 April, 00:00 JST
    ended = p.proxy.get("/notices")
    assert ended.status_code == 403
    assert ENDED in ended.text
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    assert made.status(clock.now()) is GrantStatus.EXPIRED
    assert "期限切れ" in p.principal.get("/proxy").text


def test_another_persons_grant_by_id_is_not_found(client: TestClient, platform: Platform) -> None:
    p = pair(platform, client)
    assert redeem(p.proxy, grant(platform, p.principal, ["notices"])) == 303
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    stranger = TestClient(client.app, base_url="http://127.0.0.1")
    login(platform, stranger, holder(platform, "鈴木", "三郎").card)
    token = csrf(stranger.get("/proxy").text)
    assert (
        stranger.post(
            f"/proxy/grants/{made.grant_id}/revoke", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        stranger.post(
            "/proxy/act", data={"grant_id": made.grant_id, "csrf_token": token}
        ).status_code
        == 404
    )
    # The proxy cannot revoke the principal's grant either (only the principal revokes).
    own = csrf(p.proxy.get("/proxy").text)
    assert (
        p.proxy.post(f"/proxy/grants/{made.grant_id}/revoke", data={"csrf_token": own}).status_code
        == 404
    )
    assert platform.portal.proxies.given(p.principal_account.account_id)[0].revoked_at is None
    assert "GET" not in stranger.get("/proxy").text.split('id="log"')[1].split("</section>")[0]


def test_every_post_needs_the_csrf_token(client: TestClient, platform: Platform) -> None:
    p = pair(platform, client)
    assert redeem(p.proxy, grant(platform, p.principal, ["notices"])) == 303
    [made] = platform.portal.proxies.given(p.principal_account.account_id)
    forms: dict[str, dict[str, object]] = {
        "/proxy/grants": {
            "proxy_label": "x",
            "principal_label": "y",
            "scopes": ["notices"],
            "last_day": "2026-05-01",
        },
        f"/proxy/grants/{made.grant_id}/revoke": {},
        "/proxy/redeem": {"code": "ABCD"},
        "/proxy/act": {"grant_id": made.grant_id},
        "/proxy/stop": {},
    }
    for path, data in forms.items():
        who = p.proxy if path in ("/proxy/act", "/proxy/stop", "/proxy/redeem") else p.principal
        bad: dict[str, str]
        for bad in ({}, {"csrf_token": "forged"}):
            assert who.post(path, data={**data, **bad}).status_code == 403, path
        other_site = who.post(
            path,
            data={**data, "csrf_token": csrf(who.get("/proxy").text)},
            headers={"Origin": "https://evil.example"},
        )
        assert other_site.status_code == 403, path
    assert len(platform.portal.proxies.given(p.principal_account.account_id)) == 1
    assert platform.portal.proxies.given(p.principal_account.account_id)[0].revoked_at is None
    session = platform.portal.sessions.current(p.proxy.cookies.get(COOKIE))
    assert session.acting_grant is None
    act(platform, p)
    assert p.proxy.post("/proxy/stop", data={}).status_code == 403
    assert BANNER in p.proxy.get("/").text  # still acting: the forged stop did nothing


def test_names_are_escaped(client: TestClient, platform: Platform) -> None:
    p = pair(platform, client)
    evil = '<script>alert(1)</script>"'
    code = grant(platform, p.principal, ["notices"], proxy_label=evil, principal_label=evil)
    made = p.principal.get("/proxy").text
    assert "<script>alert(1)" not in made
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in made
    assert redeem(p.proxy, code) == 303
    act(platform, p)
    for path in ("/", "/notices", "/account", "/proxy"):
        text = p.proxy.get(path).text
        assert "<script>alert(1)" not in text, path
        assert "&lt;script&gt;" in text, path


def test_the_login_history_of_a_logout_while_acting_is_the_proxys(
    client: TestClient, platform: Platform
) -> None:
    p = acting_pair(platform, client, ["notices"])
    token = csrf(p.proxy.get("/").text)
    assert (
        p.proxy.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    accounts = platform.portal.accounts
    assert "logout" in [e.action for e in accounts.history(p.proxy_account.account_id)]
    assert "logout" not in [e.action for e in accounts.history(p.principal_account.account_id)]


def test_the_proxy_log_is_append_only_and_holds_no_personal_data(
    client: TestClient, platform: Platform
) -> None:
    p = acting_pair(platform, client, ["notices"])
    p.proxy.get("/account")
    store = platform.portal.store
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(update(proxy_log).values(outcome="allowed"))
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(delete(proxy_log))
    with store.transaction() as s:
        rows = [dict(r) for r in s.execute(proxy_log.select()).mappings()]
    text = repr(rows)
    assert "母 花子" not in text
    assert "長男 一郎" not in text
    assert "山田" not in text
    for entry in rows:
        assert set(entry) >= {"proxy_id", "principal_id", "recorded_at", "path", "outcome"}


def test_the_session_as_stored_stays_the_proxys_own(client: TestClient, platform: Platform) -> None:
    """Code reading the session without the pages' check sees the proxy, never the principal."""
    p = acting_pair(platform, client, ["notices"])
    session = platform.portal.sessions.current(p.proxy.cookies.get(COOKIE))
    assert session.account_id == p.proxy_account.account_id
    assert session.acting is None
    assert dataclasses.replace(session, acting_grant=None).own_account_id == session.account_id


def test_every_page_of_the_app_goes_through_the_one_check(
    client: TestClient, platform: Platform
) -> None:
    """Walk the app's page routes: each one the map refuses answers the proxy's 403 page."""
    p = acting_pair(platform, client, ["records", "my_data", "notices", "applications", "payments"])
    token = csrf(p.proxy.get("/").text)
    every = frozenset({"records", "my_data", "notices", "applications", "payments"})
    walked = 0
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, PageRoute):
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(route.methods or ()):
            if allowed(method, path, every)[0]:
                continue
            answer = p.proxy.request(method, path, data={"csrf_token": token})
            assert answer.status_code == 403, (method, path)
            assert "PROXY_OUT_OF_SCOPE" in answer.text, (method, path)
            walked += 1
    assert walked >= 20  # the account, login, back office, proxy forms, card steps, …
    refused = [e for e in _log(platform, p.principal_account.account_id) if e[1] == "refused"]
    assert len(refused) == walked  # each recorded once, however often a page asks
    # A card-facing route that shows a page to a browser takes the same check.
    opened = p.proxy.get(REQUEST_PATH + "x", headers={"Accept": "text/html"})
    assert opened.status_code == 403
    assert "PROXY_OUT_OF_SCOPE" in opened.text
