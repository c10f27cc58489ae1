"""引越しワンストップ over HTTP on both storage backends: the signed move-out notice at
前橋市 (A), its recording in A's registry, the planned move-in 神戸市 (B) is told of over
the bus, the visit booked at B, and the move-in at B's counter with the move pair."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from backoffice_helpers import Staff, staff
from fastapi.testclient import TestClient
from moving_helpers import (
    KOBE,
    NEW_ADDRESS,
    arrival_ids,
    csrf_of,
    move_ids,
    submit_notice,
    with_kobe,
)
from portal_helpers import MAEBASHI, Holder, holder, login

from openmyna.clock import JST, FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.portal.moving.book import PlannedMoveIn
from openmyna.portal.moving.hours import CounterHours
from openmyna.portal.moving.tables import MOVING_BODY, MOVING_KIND, metadata
from openmyna.registry import NewPerson, NoMoveOut, Sex
from openmyna.store import open_store


def _other(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url="http://127.0.0.1")


def _record(a: TestClient, application_id: str) -> object:
    token = csrf_of(a, f"/backoffice/moves/{application_id}")
    return a.post(
        f"/backoffice/moves/{application_id}/record",
        data={"csrf_token": token},
        follow_redirects=False,
    )


def _noticed(platform: Platform, client: TestClient) -> tuple[Holder, str, TestClient, Staff]:
    who = holder(platform)
    login(platform, client, who.card)
    application_id = submit_notice(client, platform, who)
    a = _other(client)
    clerk = staff(platform, a, Role.CLERK, MAEBASHI, family="鈴木", given="一郎")
    return who, application_id, a, clerk


def _recorded(platform: Platform, client: TestClient) -> tuple[Holder, str, str]:
    who, application_id, a, _ = _noticed(platform, client)
    went = _record(a, application_id)
    assert went.status_code == 303  # type: ignore[attr-defined]
    found = move_ids(client.get("/moving").text)
    assert len(found) == 1
    return who, application_id, found[0]


def _book_first(client: TestClient, move_id: str) -> str:
    page = client.get(f"/moving/{move_id}")
    assert page.status_code == 200, page.text
    start = page.text.split('name="starts_at" id="slot-1" value="')[1].split('"')[0]
    went = client.post(
        f"/moving/{move_id}/visit",
        data={"starts_at": start, "csrf_token": csrf_of(client, f"/moving/{move_id}")},
        follow_redirects=False,
    )
    assert went.status_code == 303, went.text
    return start


def test_the_one_stop_from_both_ends(client: TestClient, platform: Platform) -> None:
    who, application_id, a, clerk_a = _noticed(platform, client)
    b = _other(client)
    clerk_b = staff(platform, b, Role.CLERK, KOBE, family="佐藤", given="次郎")
    assert arrival_ids(b.get("/backoffice/moves").text) == []  # nothing told to B yet

    # A: the notice is waiting; the clerk reviews the signed notice and records it.
    listing = a.get("/backoffice/moves")
    assert f"/backoffice/moves/{application_id}" in listing.text
    review = a.get(f"/backoffice/moves/{application_id}")
    assert review.status_code == 200, review.text
    assert "山田 花子" in review.text
    assert NEW_ADDRESS in review.text
    went = _record(a, application_id)
    assert went.status_code == 303  # type: ignore[attr-defined]
    eapply = platform.portal.eapply
    app = eapply.applications.for_account(
        eapply.applications.of_account(login_account(platform, who))[0].account_id,
        application_id,
    )
    assert app.status is ApplicationStatus.APPROVED
    maebashi = platform.registries.municipality(MAEBASHI)
    gone = maebashi.get(who.resident.resident_code)
    assert not gone.is_current
    assert gone.destination == NEW_ADDRESS
    notices = platform.portal.notices.page(app.account_id)
    assert any("転出届を受け付けました" in n.title for n in notices.notices)
    log = platform.backoffice.staff.entries(MAEBASHI)
    assert any(e.action == "moving.move_out" and e.outcome == "done" for e in log)

    # B was told over the bus: the planned move-in is on its list.
    arrivals = arrival_ids(b.get("/backoffice/moves").text)
    assert len(arrivals) == 1
    # The person books a visit at B.
    mine = client.get("/moving")
    assert mine.status_code == 200
    (move_id,) = move_ids(mine.text)
    assert move_id == arrivals[0]
    start = _book_first(client, move_id)
    booked = client.get(f"/moving/{move_id}?done=booked")
    assert "来庁予約をしました" in booked.text
    assert "予約を取り消す" in booked.text
    starts = dt.datetime.fromisoformat(start)
    assert f"{starts:%H:%M}〜" in b.get("/backoffice/moves").text  # B's staff see it

    # The day comes; B's clerk finishes the move-in with the move pair.
    assert isinstance(platform.clock, FixedClock)
    platform.clock.set(starts.astimezone(dt.UTC))
    login(platform, b, clerk_b.person.card)  # a week later: a new session
    page = b.get(f"/backoffice/moves/arrivals/{move_id}")
    assert page.status_code == 200, page.text
    assert f'value="{NEW_ADDRESS}"' in page.text  # from A's move-out certificate
    done = b.post(
        f"/backoffice/moves/arrivals/{move_id}/move-in",
        data={
            "on": starts.date().isoformat(),
            "address": NEW_ADDRESS,
            "documents": ["マイナンバーカード"],
            "csrf_token": csrf_of(b, f"/backoffice/moves/arrivals/{move_id}"),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(f"/backoffice/{KOBE}/residents/")
    assert done.headers["location"].endswith("?done=moved_in")
    arrived = platform.registries.municipality(KOBE).get(who.resident.resident_code)
    assert arrived.is_current
    assert arrived.address == NEW_ADDRESS
    assert arrived.moved_in_from_lg_code == MAEBASHI
    again = b.post(
        f"/backoffice/moves/arrivals/{move_id}/move-in",
        data={
            "on": starts.date().isoformat(),
            "address": NEW_ADDRESS,
            "documents": ["マイナンバーカード"],
            "csrf_token": csrf_of(b, "/backoffice/moves"),
        },
    )
    assert again.status_code == 409  # done once: not twice
    assert "MOVE_ALREADY_COMPLETED" in again.text
    assert "転入済み" in b.get(f"/backoffice/moves/arrivals/{move_id}").text
    # The person sees the move-in done and the new address.
    login(platform, client, who.card)
    status = client.get("/moving").text
    assert "転入済み" in status
    assert NEW_ADDRESS in status
    assert clerk_a.member.lg_code == MAEBASHI


def login_account(platform: Platform, who: Holder) -> str:
    """The account of ``who`` (logged in before)."""
    from portal_helpers import authenticate

    return platform.portal.accounts.for_login(authenticate(platform, who.card)).account_id


def test_another_municipality_sees_neither_the_notice_nor_the_move(
    client: TestClient, platform: Platform
) -> None:
    _, application_id, move_id = _recorded(platform, client)
    kobe = _other(client)
    staff(platform, kobe, Role.CLERK, KOBE, family="佐藤", given="次郎")
    assert kobe.get(f"/backoffice/moves/{application_id}").status_code == 404
    maebashi = _other(client)
    staff(platform, maebashi, Role.ADMINISTRATOR, MAEBASHI, family="高橋", given="三郎")
    assert maebashi.get(f"/backoffice/moves/arrivals/{move_id}").status_code == 404
    token = csrf_of(maebashi, "/backoffice/moves")
    refused = maebashi.post(
        f"/backoffice/moves/arrivals/{move_id}/move-in",
        data={
            "on": "2026-04-08",
            "address": NEW_ADDRESS,
            "documents": ["マイナンバーカード"],
            "csrf_token": token,
        },
    )
    assert refused.status_code == 404
    # Another person cannot open or book the move.
    stranger = _other(client)
    other = holder(platform, "佐々木", "四郎")
    login(platform, stranger, other.card)
    assert stranger.get(f"/moving/{move_id}").status_code == 404
    assert move_ids(stranger.get("/moving").text) == []


def test_recording_twice_is_one_move_out_and_one_notice(
    client: TestClient, platform: Platform
) -> None:
    who, application_id, a, _ = _noticed(platform, client)
    assert _record(a, application_id).status_code == 303  # type: ignore[attr-defined]
    again = a.post(
        f"/backoffice/moves/{application_id}/record",
        data={"csrf_token": csrf_of(a, "/backoffice/moves")},
        follow_redirects=False,
    )
    assert again.status_code == 303
    history = platform.portal.eapply.applications.history(application_id)
    assert [c.status for c in history] == [
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.RECEIVED,
        ApplicationStatus.APPROVED,
    ]
    account = platform.portal.eapply.applications.history(application_id)
    assert account
    app = platform.portal.eapply.office.get(MAEBASHI, application_id)
    titles = [n.title for n in platform.portal.notices.page(app.account_id).notices]
    assert sum("転出届を受け付けました" in t for t in titles) == 1
    events = [
        e
        for e in platform.registries.municipality(MAEBASHI).audit_entries(
            who.resident.resident_code
        )
        if e.action == "registry.moved_out"
    ]
    assert len(events) == 1
    assert len(platform.portal.moving.book.expected_at(KOBE)) == 1


def test_a_rejected_notice_is_not_recorded(client: TestClient, platform: Platform) -> None:
    _, application_id, a, clerk = _noticed(platform, client)
    office = platform.portal.eapply.office
    office.receive(MAEBASHI, application_id, actor="staff:x")
    from openmyna.portal.eapply.models import Outcome

    office.decide(MAEBASHI, application_id, Outcome.REJECTED, actor="staff:x", reason="重複")
    refused = a.post(
        f"/backoffice/moves/{application_id}/record",
        data={"csrf_token": csrf_of(a, "/backoffice/moves")},
    )
    assert refused.status_code == 409
    assert "MOVE_NOTICE_DECIDED" in refused.text
    assert (
        platform.registries.municipality(MAEBASHI)
        .get(_resident_code(platform, application_id))
        .is_current
    )
    assert clerk.member.role is Role.CLERK


def _resident_code(platform: Platform, application_id: str) -> str:
    app = platform.portal.eapply.office.get(MAEBASHI, application_id)
    return platform.jpki.record(app.signer_serial).resident_code


def test_posts_need_the_csrf_token(client: TestClient, platform: Platform) -> None:
    _, application_id, a, _ = _noticed(platform, client)
    refused = a.post(f"/backoffice/moves/{application_id}/record", data={})
    assert refused.status_code == 403
    assert platform.portal.moving.book.notice(application_id) is None
    assert _record(a, application_id).status_code == 303  # type: ignore[attr-defined]
    (move_id,) = move_ids(client.get("/moving").text)
    page = client.get(f"/moving/{move_id}").text
    start = page.split('name="starts_at" id="slot-1" value="')[1].split('"')[0]
    assert client.post(f"/moving/{move_id}/visit", data={"starts_at": start}).status_code == 403
    assert client.post(f"/moving/{move_id}/visit/cancel", data={}).status_code == 403
    assert (
        platform.portal.moving.book.visit_of(move_id, platform.portal.moving.hours.of(KOBE)) is None
    )


def test_a_full_or_past_slot_is_refused_and_a_visit_can_be_cancelled(
    client: TestClient, platform: Platform
) -> None:
    who, _, move_id = _recorded(platform, client)
    moving = platform.portal.moving
    move = moving.book.planned(move_id)
    assert move is not None
    hours = moving.hours.of(KOBE)
    day = moving.days(move)[0]
    first = hours.starts(day)[0]
    for n in range(hours.capacity):  # other people fill the first slot
        other = PlannedMoveIn(
            move_id=f"{n:032x}",
            to_lg_code=KOBE,
            from_lg_code=MAEBASHI,
            resident_code="00000000000",
            name="x",
            kana="x",
            date_of_birth=dt.date(1990, 1, 1),
            from_address="x",
            planned_on=move.planned_on,
            told_at=platform.clock.now(),
        )
        moving.book.book(other, "f" * 32, first, hours)
    page = client.get(f"/moving/{move_id}").text
    assert "満員" in page
    token = csrf_of(client, f"/moving/{move_id}")
    full = client.post(
        f"/moving/{move_id}/visit", data={"starts_at": first.isoformat(), "csrf_token": token}
    )
    assert full.status_code == 409
    assert "VISIT_SLOT_UNAVAILABLE" in full.text
    # A time the counter does not offer, and a day outside the window.
    odd = first + dt.timedelta(minutes=7)
    assert (
        client.post(
            f"/moving/{move_id}/visit", data={"starts_at": odd.isoformat(), "csrf_token": token}
        ).status_code
        == 409
    )
    late = dt.datetime.combine(move.planned_on + dt.timedelta(days=45), first.timetz())
    assert (
        client.post(
            f"/moving/{move_id}/visit", data={"starts_at": late.isoformat(), "csrf_token": token}
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/moving/{move_id}/visit", data={"starts_at": "tomorrow", "csrf_token": token}
        ).status_code
        == 400
    )
    # The second slot, then it is past.
    second = hours.starts(day)[1]
    assert isinstance(platform.clock, FixedClock)
    platform.clock.set((second + dt.timedelta(minutes=1)).astimezone(dt.UTC))
    login(platform, client, who.card)  # a week later: a new session
    token = csrf_of(client, f"/moving/{move_id}")
    past = client.post(
        f"/moving/{move_id}/visit", data={"starts_at": second.isoformat(), "csrf_token": token}
    )
    assert past.status_code == 409
    # A later slot books; a second booking is refused; cancelling frees it.
    later = hours.starts(day)[-1]
    ok = client.post(
        f"/moving/{move_id}/visit",
        data={"starts_at": later.isoformat(), "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    twice = client.post(
        f"/moving/{move_id}/visit", data={"starts_at": later.isoformat(), "csrf_token": token}
    )
    assert twice.status_code == 409
    assert "VISIT_ALREADY_BOOKED" in twice.text
    cancelled = client.post(
        f"/moving/{move_id}/visit/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    assert moving.book.visit_of(move_id, hours) is None
    assert "来庁予約を取り消しました" in client.get(f"/moving/{move_id}?done=cancelled").text
    assert later.astimezone(JST).date() == day


def test_no_move_in_before_the_move_out_is_recorded(client: TestClient, platform: Platform) -> None:
    who, application_id, _, _ = _noticed(platform, client)
    b = _other(client)
    clerk_b = staff(platform, b, Role.CLERK, KOBE, family="佐藤", given="次郎")
    assert arrival_ids(b.get("/backoffice/moves").text) == []
    assert move_ids(client.get("/moving").text) == []
    with pytest.raises(NoMoveOut):
        platform.backoffice.move_in_certificate(
            clerk_b.session,
            KOBE,
            from_lg_code=MAEBASHI,
            resident_code=who.resident.resident_code,
        )
    assert platform.registries.municipality(MAEBASHI).get(who.resident.resident_code).is_current
    assert application_id


def test_the_special_move_in_needs_the_card_shown(client: TestClient, platform: Platform) -> None:
    who, _, move_id = _recorded(platform, client)
    b = _other(client)
    clerk_b = staff(platform, b, Role.CLERK, KOBE, family="佐藤", given="次郎")
    assert isinstance(platform.clock, FixedClock)
    platform.clock.advance(dt.timedelta(days=7))
    login(platform, b, clerk_b.person.card)
    refused = b.post(
        f"/backoffice/moves/arrivals/{move_id}/move-in",
        data={
            "on": platform.clock.today().isoformat(),
            "address": NEW_ADDRESS,
            "documents": ["旅券"],
            "csrf_token": csrf_of(b, "/backoffice/moves"),
        },
    )
    assert refused.status_code == 400
    assert "SPECIAL_MOVE_IN_NEEDS_CARD" in refused.text
    with_kobe(platform)
    assert not platform.registries.municipality(KOBE).find(name="山田")
    log = platform.backoffice.staff.entries(KOBE)
    assert any(e.outcome == "SPECIAL_MOVE_IN_NEEDS_CARD" for e in log)
    assert who.resident.lg_code == MAEBASHI


def test_the_household_moving_together_moves_out_and_one_not_in_it_stops_it(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    maebashi = platform.registries.municipality(MAEBASHI)
    child = maebashi.move_in_from_abroad(
        NewPerson("山田", "太郎", "ヤマダ", "タロウ", dt.date(2015, 6, 1), Sex.MALE),
        on=platform.clock.today(),
        household_id=who.resident.household_id,
        relationship="子",
    )
    platform.sync_once()
    login(platform, client, who.card)
    together = submit_notice(
        client,
        platform,
        who,
        more={
            "movers.1.name": "山田　太郎",
            "movers.1.date_of_birth": "2015-06-01",
            "movers.1.relationship": "child",
        },
    )
    a = _other(client)
    staff(platform, a, Role.CLERK, MAEBASHI, family="鈴木", given="一郎")
    review = a.get(f"/backoffice/moves/{together}").text
    assert review.count("世帯の記録と一致") == 2
    assert _record(a, together).status_code == 303  # type: ignore[attr-defined]
    assert not maebashi.get(child.resident_code).is_current
    assert len(platform.portal.moving.book.expected_at(KOBE)) == 2


def test_a_mover_not_in_the_household_is_refused(client: TestClient, platform: Platform) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    stranger = submit_notice(
        client,
        platform,
        who,
        more={
            "movers.1.name": "田中 一郎",
            "movers.1.date_of_birth": "2010-01-01",
            "movers.1.relationship": "child",
        },
    )
    a = _other(client)
    staff(platform, a, Role.CLERK, MAEBASHI, family="鈴木", given="一郎")
    assert "届出人の世帯に記録がありません" in a.get(f"/backoffice/moves/{stranger}").text
    refused = a.post(
        f"/backoffice/moves/{stranger}/record",
        data={"csrf_token": csrf_of(a, "/backoffice/moves")},
    )
    assert refused.status_code == 409
    assert "MOVER_NOT_IN_HOUSEHOLD" in refused.text
    assert platform.registries.municipality(MAEBASHI).get(who.resident.resident_code).is_current
    assert platform.portal.eapply.office.get(MAEBASHI, stranger).status is not (
        ApplicationStatus.APPROVED
    )


def test_the_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = open_store(settings, MOVING_KIND, MOVING_BODY)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
    finally:
        store.close()


def test_the_counter_hours_file_is_checked() -> None:
    hours = CounterHours.load()
    assert hours.of(KOBE).capacity == 3
    assert hours.of(MAEBASHI).capacity == hours.default.capacity
    assert not hours.default.open_on(dt.date(2026, 4, 4))  # a Saturday
    assert not hours.default.open_on(dt.date(2026, 12, 30))  # the year end
    assert len(hours.default.starts(dt.date(2026, 4, 1))) == 17  # 08:30 to 17:00
    base = (
        "[default]\nweekdays=[1]\nopens='09:00'\ncloses='10:00'\n"
        "slot_minutes=30\ncapacity=1\nclosed=[]\n"
    )
    assert len(CounterHours.parse(base).default.starts(dt.date(2026, 4, 6))) == 2
    for bad in (
        base.replace("closes='10:00'", "closes='08:00'"),
        base.replace("capacity=1", "capacity=0"),
        base + "colour='blue'\n",
        base + '[municipalities."12"]\ncapacity=2\n',
        "not toml",
    ):
        with pytest.raises(OpenMynaError) as refused:
            CounterHours.parse(bad)
        assert refused.value.code in ("INVALID_COUNTER_HOURS", "INVALID_LG_CODE")


def test_the_notice_s_text_is_shown_escaped(client: TestClient, platform: Platform) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    typed = '<script>alert("x")</script>神戸'
    application_id = submit_notice(client, platform, who, more={"move.destination_address": typed})
    a = _other(client)
    staff(platform, a, Role.CLERK, MAEBASHI, family="鈴木", given="一郎")
    page = a.get(f"/backoffice/moves/{application_id}").text
    assert typed not in page
    assert "&lt;script&gt;alert(" in page
    assert _record(a, application_id).status_code == 303  # type: ignore[attr-defined]
    b = _other(client)
    staff(platform, b, Role.CLERK, KOBE, family="佐藤", given="次郎")
    (move_id,) = arrival_ids(b.get("/backoffice/moves").text)
    arrival = b.get(f"/backoffice/moves/arrivals/{move_id}").text
    assert typed not in arrival
    assert "&lt;script&gt;" in arrival
    too_long = client.post(
        f"/moving/{move_id}/visit",
        data={"starts_at": "2" * 41, "csrf_token": csrf_of(client, f"/moving/{move_id}")},
    )
    assert too_long.status_code == 400
