"""The back office's e-application pages: the inbox, one application, 受付, 決定, the notice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from backoffice_helpers import KOBE, Staff, csrf, staff
from eapply_helpers import (
    CHILD_ALLOWANCE_ANSWERS,
    DISASTER,
    answer_prefill,
    document_of,
    post_cms,
    request_prefill,
    request_signature,
    save,
    signed,
    start,
)
from fastapi.testclient import TestClient
from portal_helpers import MAEBASHI, Holder, holder, login
from sqlalchemy import func, select

from openmyna.clock import FixedClock
from openmyna.platform import Platform
from openmyna.portal.backoffice import applications as applications_module
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.portal.notices.tables import notices

DISASTER_ANSWERS = {
    "applicant.tel": "0783311111",
    "damage.disaster": "earthquake",
    "damage.occurred_on": "2026-03-20",
    "damage.property_address": "兵庫県神戸市中央区加納町六丁目5番1号",
    "damage.tenure": "owned",
    "damage.description": "屋根瓦の落下、外壁のひび割れ",
    "delivery.method": "counter",
    "delivery.copies": "1",
}


def submit(
    client: TestClient,
    platform: Platform,
    who: Holder,
    service_id: str,
    answers: dict[str, str],
) -> str:
    """An application of ``service_id`` filled from ``who``'s card, signed; its id."""
    login(platform, client, who.card)
    draft = start(client, service_id)
    answer_prefill(client, who.card, request_prefill(client, draft))
    saved = save(client, draft, answers)
    assert saved.status_code == 303, saved.text
    token = request_signature(client, draft)
    done = post_cms(client, token, signed(platform, who.card, document_of(client, token)))
    assert done.status_code == 200, done.text
    return draft.rsplit("/", 1)[1]


@pytest.fixture
def office(client: TestClient) -> Iterator[TestClient]:
    """A second browser on the same app: the staff's."""
    with TestClient(client.app, base_url="http://127.0.0.1") as c:
        yield c


def _page(office: TestClient, lg_code: str, application_id: str) -> str:
    got = office.get(f"/backoffice/{lg_code}/applications/{application_id}")
    assert got.status_code == 200, got.text
    return got.text


def _post(office: TestClient, lg_code: str, application_id: str, step: str, **data: str) -> object:
    token = csrf(_page(office, lg_code, application_id))
    return office.post(
        f"/backoffice/{lg_code}/applications/{application_id}/{step}",
        data={**data, "csrf_token": token},
        follow_redirects=False,
    )


def _notice_count(platform: Platform) -> int:
    with platform.portal.notices.store.transaction() as s:
        return int(s.execute(select(func.count()).select_from(notices)).scalar_one())


def _account(platform: Platform, application_id: str) -> str:
    return platform.portal.eapply.office.get(KOBE, application_id).account_id


def _receive(office: TestClient, lg_code: str, application_id: str) -> None:
    done = _post(office, lg_code, application_id, "receive")
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]


# --- the whole way ----------------------------------------------------------------------


def test_received_decided_and_noticed_once(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    applicant = holder(platform)
    application_id = submit(client, platform, applicant, DISASTER, DISASTER_ANSWERS)
    clerk = staff(platform, office, Role.CLERK, KOBE, family="佐藤", given="次郎")

    inbox = office.get(f"/backoffice/{KOBE}/applications")
    assert inbox.status_code == 200
    assert application_id in inbox.text
    assert "山田 花子" in inbox.text  # the applicant's name from the signed data
    page = _page(office, KOBE, application_id)
    assert "検証済み" in page  # the signature verified again
    assert "屋根瓦の落下" in page
    assert "受付する" in page
    assert "決定して通知する" not in page

    _receive(office, KOBE, application_id)
    assert platform.portal.eapply.office.get(KOBE, application_id).status is (
        ApplicationStatus.RECEIVED
    )
    page = _page(office, KOBE, application_id)
    assert "決定は係長（決裁者）以上が行います。" in page
    refused = _post(office, KOBE, application_id, "decide", outcome="approved")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "STAFF_ROLE_REQUIRED" in refused.text  # type: ignore[attr-defined]

    supervisor = staff(platform, office, Role.SUPERVISOR, KOBE, family="高橋", given="三郎")
    no_grade = _post(office, KOBE, application_id, "decide", outcome="approved")
    assert no_grade.status_code == 400  # type: ignore[attr-defined]
    assert "DAMAGE_GRADE_REQUIRED" in no_grade.text  # type: ignore[attr-defined]
    before = _notice_count(platform)
    decided = _post(office, KOBE, application_id, "decide", outcome="approved", damage_grade="half")
    assert decided.status_code == 303  # type: ignore[attr-defined]
    assert _notice_count(platform) == before + 1
    # A retry (the same post again, or another grade): the first decision stands, no new notice.
    desk = platform.application_desk
    again = desk.decide(
        supervisor.session,
        KOBE,
        application_id,
        outcome="approved",
        damage_grade="total",
    )
    assert not again.notice_created
    assert _notice_count(platform) == before + 1
    assert "半壊" in _page(office, KOBE, application_id)

    # The applicant's notice says the grade and links to the application.
    listed = platform.portal.notices.page(_account(platform, application_id)).notices
    [notice] = [n for n in listed if n.link == f"/applications/{application_id}"]
    assert "被害の程度：半壊（損害割合20％以上30％未満）" in notice.body
    assert "Half destroyed (loss of 20 to under 30 percent)" in notice.body
    assert notice.category == "disaster"

    # The staff log names who did each step.
    log = platform.backoffice.staff.entries(KOBE)
    steps = [
        (e.action, e.account_id, e.outcome)
        for e in log
        if e.subject == application_id and e.action in ("application.receive", "application.decide")
    ]
    assert ("application.receive", clerk.member.account_id, "done") in steps
    assert ("application.decide", clerk.member.account_id, "STAFF_ROLE_REQUIRED") not in steps
    assert ("application.decide", supervisor.member.account_id, "DAMAGE_GRADE_REQUIRED") in steps
    assert ("application.decide", supervisor.member.account_id, "done") in steps
    assert any(
        e.action == "refused.decide_applications" and e.account_id == clerk.member.account_id
        for e in log
    )


def test_a_rejection_needs_its_reason_and_says_it(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    applicant = holder(platform)
    application_id = submit(client, platform, applicant, DISASTER, DISASTER_ANSWERS)
    staff(platform, office, Role.SUPERVISOR, KOBE, family="高橋", given="三郎")
    _receive(office, KOBE, application_id)
    bare = _post(office, KOBE, application_id, "decide", outcome="rejected", reason="  ")
    assert bare.status_code == 400  # type: ignore[attr-defined]
    assert "DECISION_REASON_REQUIRED" in bare.text  # type: ignore[attr-defined]
    assert platform.portal.eapply.office.get(KOBE, application_id).status is (
        ApplicationStatus.RECEIVED
    )
    reason = "被災した住家が市外にあるため<b>受け付けられません</b>"
    done = _post(office, KOBE, application_id, "decide", outcome="rejected", reason=reason)
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = _page(office, KOBE, application_id)
    assert "&lt;b&gt;受け付けられません&lt;/b&gt;" in page
    assert "<b>受け付けられません" not in page
    listed = platform.portal.notices.page(_account(platform, application_id)).notices
    assert any("却下" in n.title and reason in n.body for n in listed)
    nonsense = _post(office, KOBE, application_id, "decide", outcome="maybe", reason="x")
    assert nonsense.status_code == 400  # type: ignore[attr-defined]


# --- refusals -----------------------------------------------------------------------------


def test_csrf_is_required_for_every_step(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    application_id = submit(client, platform, holder(platform), DISASTER, DISASTER_ANSWERS)
    staff(platform, office, Role.SUPERVISOR, KOBE)
    for step, data in (
        ("receive", {}),
        ("decide", {"outcome": "rejected", "reason": "x"}),
        ("local-tax", {}),
    ):
        bad = office.post(
            f"/backoffice/{KOBE}/applications/{application_id}/{step}",
            data={**data, "csrf_token": "not-the-token"},
            follow_redirects=False,
        )
        assert bad.status_code == 403, step
        none = office.post(
            f"/backoffice/{KOBE}/applications/{application_id}/{step}",
            data=data,
            follow_redirects=False,
        )
        assert none.status_code == 403, step
    assert platform.portal.eapply.office.get(KOBE, application_id).status is (
        ApplicationStatus.SUBMITTED
    )


def test_another_municipality_sees_nothing(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    application_id = submit(client, platform, holder(platform), DISASTER, DISASTER_ANSWERS)
    staff(platform, office, Role.ADMINISTRATOR, MAEBASHI)
    assert application_id not in office.get(f"/backoffice/{MAEBASHI}/applications").text
    for path in (
        f"/backoffice/{MAEBASHI}/applications/{application_id}",
        f"/backoffice/{MAEBASHI}/applications/{'0' * 32}",
    ):
        assert office.get(path).status_code == 404
    token = csrf(office.get(f"/backoffice/{MAEBASHI}/applications").text)
    for step in ("receive", "decide", "local-tax"):
        refused = office.post(
            f"/backoffice/{MAEBASHI}/applications/{application_id}/{step}",
            data={"csrf_token": token, "outcome": "approved"},
            follow_redirects=False,
        )
        assert refused.status_code == 404, step
    # Without a role at 神戸市: the pages of 神戸市 are refused outright.
    assert office.get(f"/backoffice/{KOBE}/applications").status_code == 403
    assert office.get(f"/backoffice/{KOBE}/applications/{application_id}").status_code == 403
    assert platform.portal.eapply.office.get(KOBE, application_id).status is (
        ApplicationStatus.SUBMITTED
    )


def test_a_resident_without_a_role_is_refused(client: TestClient, platform: Platform) -> None:
    login(platform, client, holder(platform, "伊藤", "四郎").card)
    assert client.get(f"/backoffice/{KOBE}/applications").status_code == 403
    client.cookies.clear()
    anonymous = client.get(f"/backoffice/{KOBE}/applications", follow_redirects=False)
    assert anonymous.status_code in (302, 303)


def test_form_values_are_shown_escaped(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    script = '<script>alert("x")</script>'
    answers = {
        **DISASTER_ANSWERS,
        "applicant.name": f"山田{script}",
        "damage.description": f"{script}\n二行目",
    }
    application_id = submit(client, platform, holder(platform), DISASTER, answers)
    staff(platform, office, Role.CLERK, KOBE)
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    page = _page(office, KOBE, application_id)
    assert script not in page
    assert page.count(escaped) == 2
    inbox = office.get(f"/backoffice/{KOBE}/applications").text
    assert script not in inbox
    assert f"山田{escaped}" in inbox


def test_the_inbox_filters_and_pages(
    client: TestClient,
    office: TestClient,
    platform: Platform,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = submit(client, platform, holder(platform), DISASTER, DISASTER_ANSWERS)
    clock.advance(dt.timedelta(minutes=1))
    second = submit(client, platform, holder(platform, "小林", "五郎"), DISASTER, DISASTER_ANSWERS)
    staff(platform, office, Role.CLERK, KOBE)
    _receive(office, KOBE, first)
    received = office.get(f"/backoffice/{KOBE}/applications", params={"status": "received"})
    assert first in received.text
    assert second not in received.text
    waiting = office.get(f"/backoffice/{KOBE}/applications", params={"status": "submitted"})
    assert second in waiting.text
    assert first not in waiting.text
    other = office.get(f"/backoffice/{KOBE}/applications", params={"form": "child-allowance-claim"})
    assert first not in other.text
    assert "該当する申請はありません。" in other.text
    for bad in ({"status": "lost"}, {"form": "no-such-form"}):
        assert office.get(f"/backoffice/{KOBE}/applications", params=bad).status_code == 400
    beyond = office.get(f"/backoffice/{KOBE}/applications", params={"p": "99"})
    assert first in beyond.text  # a page beyond the last is the last
    desk = platform.application_desk
    clerk = staff(platform, office, Role.CLERK, KOBE, family="山本", given="六郎")
    paged = desk.inbox(clerk.session, KOBE, page=1)
    assert (paged.total, paged.pages, [a.application_id for a in paged.applications]) == (
        2,
        1,
        [first, second],
    )
    monkeypatch.setattr(applications_module, "PER_PAGE", 1)
    one = office.get(f"/backoffice/{KOBE}/applications", params={"p": "2"})
    assert second in one.text
    assert first not in one.text
    assert 'rel="prev"' in one.text
    assert 'rel="next"' not in one.text


def test_a_move_out_notice_is_left_to_the_moving_one_stop(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    from eapply_helpers import MOVE_OUT

    who = holder(platform)
    login(platform, client, who.card)
    draft = start(client, MOVE_OUT)
    answer_prefill(client, who.card, request_prefill(client, draft))
    form_page = client.get(draft).text
    assert "move" in form_page  # the form rendered
    application_id = _submit_move_out(client, platform, who, draft)
    member = staff(platform, office, Role.SUPERVISOR, MAEBASHI)
    page = _page(office, MAEBASHI, application_id)
    assert f'href="/backoffice/moves/{application_id}"' in page
    assert "決定して通知する" not in page
    assert "受付する" not in page
    desk = platform.application_desk
    with pytest.raises(Exception, match="moving one-stop"):
        desk.decide(member.session, MAEBASHI, application_id, outcome="approved")


def _submit_move_out(client: TestClient, platform: Platform, who: Holder, draft: str) -> str:
    from eapply_helpers import shown_values

    form = platform.portal.eapply.catalogue.forms["move-out-notice"]
    answers: dict[str, str] = {}
    shown = shown_values(client.get(draft).text)
    for section in form.sections:
        for f in section.fields:
            key = f"{section.id}.{f.name}" if section.repeat is None else f"{section.id}.0.{f.name}"
            if shown.get(key):
                continue
            if not f.required:
                continue
            answers[key] = _an_answer(f)
    saved = save(client, draft, answers)
    assert saved.status_code == 303, saved.text
    token = request_signature(client, draft)
    done = post_cms(client, token, signed(platform, who.card, document_of(client, token)))
    assert done.status_code == 200, done.text
    return draft.rsplit("/", 1)[1]


def _an_answer(f: object) -> str:
    kind = getattr(f, "type", "text")
    if kind == "choice":
        return str(f.choices[0].value)  # type: ignore[attr-defined]
    if kind == "date":
        return "1985-02-03" if getattr(f, "max_date", None) else "2026-04-10"
    if kind == "municipality":
        return KOBE
    if kind == "integer":
        return "1"
    if kind == "checkbox":
        return "yes"
    if getattr(f, "format", None) in ("kana",):
        return "ヤマダ ハナコ"
    if getattr(f, "format", None) in ("tel", "digits"):
        return "0272231111"
    return "兵庫県神戸市中央区加納町六丁目5番1号"


def test_a_child_allowance_claim_is_approved_only_after_the_income_check(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    from eapply_helpers import CHILD_ALLOWANCE

    applicant = holder(platform)
    application_id = submit(client, platform, applicant, CHILD_ALLOWANCE, CHILD_ALLOWANCE_ANSWERS)
    staff(platform, office, Role.CLERK, MAEBASHI, family="佐藤", given="次郎")
    _receive(office, MAEBASHI, application_id)
    by_clerk = _post(office, MAEBASHI, application_id, "local-tax")
    assert by_clerk.status_code == 403  # type: ignore[attr-defined]
    member: Staff = staff(platform, office, Role.SUPERVISOR, MAEBASHI)
    early = _post(office, MAEBASHI, application_id, "decide", outcome="approved")
    assert early.status_code == 409  # type: ignore[attr-defined]
    assert "LOCAL_TAX_NOT_CHECKED" in early.text  # type: ignore[attr-defined]
    # Moved in from abroad this year: no other municipality levied; the tax records are here.
    here = _post(office, MAEBASHI, application_id, "local-tax")
    assert here.status_code == 409  # type: ignore[attr-defined]
    assert "LOCAL_TAX_LEVIED_HERE" in here.text  # type: ignore[attr-defined]
    done = platform.application_desk.decide(
        member.session, MAEBASHI, application_id, outcome="approved"
    )
    assert done.notice_created
    assert done.application.status is ApplicationStatus.APPROVED


# --- the rules the decisions show -----------------------------------------------------------


def test_the_child_allowance_income_limit_by_month() -> None:
    from openmyna.portal.backoffice.child_allowance import allowance_month, income_limit

    now = income_limit(dt.date(2026, 5, 1), 3)
    assert (now.limit, now.ceiling, now.assess(99_000_000)) == (None, None, "no_limit")
    before = income_limit(dt.date(2024, 9, 1), 3)  # the last month with limits
    assert (before.limit, before.ceiling) == (7_360_000, 9_720_000)
    assert [before.assess(i) for i in (7_359_999, 7_360_000, 9_719_999, 9_720_000)] == [
        "within",
        "special",
        "special",
        "over",
    ]
    assert income_limit(dt.date(2024, 9, 1), 7).limit == 8_120_000 + 2 * 380_000
    assert income_limit(dt.date(2022, 5, 1), 0).ceiling is None  # no 所得上限 before June 2022
    assert allowance_month(dt.date(2026, 4, 1)) == dt.date(2026, 5, 1)
    assert allowance_month(dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)


def test_the_damage_grades_and_their_record() -> None:
    from openmyna.portal.backoffice import disaster

    assert [g.name for g in disaster.GRADES] == [
        "全壊",
        "大規模半壊",
        "中規模半壊",
        "半壊",
        "準半壊",
        "準半壊に至らない（一部損壊）",
    ]
    for grade in disaster.GRADES:
        recorded = f"{disaster.GRADE_PREFIX}{grade.name}（{grade.share}）\n備考"
        assert disaster.grade_in(recorded) == grade
    assert disaster.grade_in("理由のみ") is None
    for bad in (None, "", "half-ish"):
        with pytest.raises(disaster.DamageGradeRequired):
            disaster.damage_grade(bad)
