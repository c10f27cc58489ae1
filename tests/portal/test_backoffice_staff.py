"""The staff register and the back office's service: roles checked in the service, every
action recorded with who did it, another municipality refused, handles bound to a session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from backoffice_helpers import KOBE, kobe_resident, staff
from fastapi.testclient import TestClient
from portal_helpers import MAEBASHI, holder, login, resident
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.platform import Platform
from openmyna.portal.backoffice.errors import StaffRoleRequired
from openmyna.portal.backoffice.staff import REQUIRES, Permission, Role
from openmyna.portal.backoffice.tables import BACKOFFICE_BODY, BACKOFFICE_KIND, metadata
from openmyna.store import open_store


def _other_client(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url="http://127.0.0.1")


def test_the_roles_rank_and_each_permission_names_the_lowest_role() -> None:
    assert [r.rank for r in Role] == [0, 1, 2]
    assert set(REQUIRES) == set(Permission)
    clerk_may = {p for p, r in REQUIRES.items() if r is Role.CLERK}
    assert clerk_may == {
        Permission.READ_RESIDENTS,
        Permission.REGISTRY_COUNTER,
        Permission.CARD_COUNTER,
    }
    assert REQUIRES[Permission.RECORD_DEATH] is Role.SUPERVISOR
    assert REQUIRES[Permission.MANAGE_STAFF] is Role.ADMINISTRATOR
    assert Role.parse(" Supervisor ") is Role.SUPERVISOR
    with pytest.raises(OpenMynaError) as refused:
        Role.parse("mayor")
    assert refused.value.code == "STAFF_ROLE_UNKNOWN"


def test_a_clerk_cannot_grant_and_the_refusal_is_logged(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    stranger = login(platform, _other_client(client), holder(platform, "佐藤", "花").card)
    office = platform.backoffice
    with pytest.raises(StaffRoleRequired):
        office.grant(
            clerk.session, MAEBASHI, account_id=stranger.account_id, role="clerk", name="佐藤 花"
        )
    assert office.staff.grant_at(stranger.account_id, MAEBASHI) is None
    [refusal] = office.staff.entries(MAEBASHI, limit=1)
    assert refusal.action == "refused.manage_staff"
    assert refusal.account_id == clerk.member.account_id
    assert refusal.actor_name == "鈴木 一郎"
    assert refusal.outcome == "STAFF_ROLE_REQUIRED"


def test_an_administrator_grants_and_revokes_and_each_is_logged(
    client: TestClient, platform: Platform
) -> None:
    admin = staff(platform, client, Role.ADMINISTRATOR)
    person = login(platform, _other_client(client), holder(platform, "佐藤", "花").card)
    office = platform.backoffice
    granted = office.grant(
        admin.session, MAEBASHI, account_id=person.account_id.upper(), role="clerk", name="佐藤 花"
    )
    assert (granted.role, granted.granted_by) == (Role.CLERK, f"staff:{admin.member.account_id}")
    promoted = office.grant(
        admin.session, MAEBASHI, account_id=person.account_id, role="supervisor", name="佐藤 花"
    )
    assert promoted.role is Role.SUPERVISOR
    assert [m.account_id for m in office.members(admin.session, MAEBASHI)] == [
        admin.member.account_id,
        person.account_id,
    ]
    ended = office.revoke(admin.session, MAEBASHI, account_id=person.account_id)
    assert ended.role is Role.SUPERVISOR
    assert office.staff.grant_at(person.account_id, MAEBASHI) is None
    rows = [
        (e.action, e.account_id, e.subject, e.detail, e.outcome)
        for e in reversed(office.staff.entries(MAEBASHI))
        if e.action.startswith("staff.")
    ]
    assert rows == [
        ("staff.grant", None, admin.member.account_id, "administrator", "done"),  # the CLI's
        ("staff.grant", admin.member.account_id, person.account_id, "clerk", "done"),
        ("staff.grant", admin.member.account_id, person.account_id, "clerk -> supervisor", "done"),
        ("staff.list", admin.member.account_id, None, "", "done"),
        ("staff.revoke", admin.member.account_id, person.account_id, "supervisor", "done"),
    ]
    with pytest.raises(OpenMynaError) as again:
        office.revoke(admin.session, MAEBASHI, account_id=person.account_id)
    assert again.value.code == "STAFF_NOT_FOUND"
    assert office.staff.entries(MAEBASHI, limit=1)[0].outcome == "STAFF_NOT_FOUND"


def test_an_administrator_cannot_change_their_own_grant_nor_another_municipalitys(
    client: TestClient, platform: Platform
) -> None:
    admin = staff(platform, client, Role.ADMINISTRATOR)
    office = platform.backoffice
    mine = admin.member.account_id
    steps: list[Callable[[], object]] = [
        lambda: office.revoke(admin.session, MAEBASHI, account_id=mine),
        lambda: office.grant(admin.session, MAEBASHI, account_id=mine, role="clerk", name="x"),
    ]
    for step in steps:
        with pytest.raises(OpenMynaError) as refused:
            step()
        assert refused.value.code == "STAFF_OWN_GRANT"
    assert office.staff.grant_at(mine, MAEBASHI) is not None
    person = login(platform, _other_client(client), holder(platform, "佐藤", "花").card)
    with pytest.raises(StaffRoleRequired):
        office.grant(admin.session, KOBE, account_id=person.account_id, role="clerk", name="佐藤")
    assert office.staff.grant_at(person.account_id, KOBE) is None


def test_a_grant_needs_an_account_that_exists(client: TestClient, platform: Platform) -> None:
    admin = staff(platform, client, Role.ADMINISTRATOR)
    for account_id, code in (("0" * 32, "PORTAL_ACCOUNT_NOT_FOUND"), ("x1", "STAFF_NOT_FOUND")):
        with pytest.raises(OpenMynaError) as refused:
            platform.backoffice.grant(
                admin.session, MAEBASHI, account_id=account_id, role="clerk", name="誰か"
            )
        assert refused.value.code == code


def test_a_clerk_of_maebashi_is_refused_at_kobe_and_that_is_logged(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    kobe_resident(platform)
    office = platform.backoffice
    assert office.search(clerk.session, MAEBASHI, name="鈴木")  # at home
    with pytest.raises(StaffRoleRequired):
        office.search(clerk.session, KOBE, name="田中")
    [refusal] = office.staff.entries(KOBE)
    assert (refusal.account_id, refusal.action, refusal.outcome) == (
        clerk.member.account_id,
        "refused.read_residents",
        "STAFF_ROLE_REQUIRED",
    )


def test_a_person_without_a_role_is_refused_everything(
    client: TestClient, platform: Platform
) -> None:
    login(platform, client, holder(platform).card)
    token = client.cookies.get("omyna_session")
    assert token is not None
    session = platform.portal.sessions.current(token)
    office = platform.backoffice
    assert office.grants(session) == []
    for step in (
        lambda: office.search(session, MAEBASHI, name="山田"),
        lambda: office.pending_applications(session, MAEBASHI),
        lambda: office.members(session, MAEBASHI),
        lambda: office.log(session, MAEBASHI),
    ):
        with pytest.raises(StaffRoleRequired):
            step()


def test_search_results_are_masked_and_named_by_handles(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    r = resident(platform, "山田", "花子")
    office = platform.backoffice
    [found] = office.search(clerk.session, MAEBASHI, name="山田　花", kana="やまだ")
    assert found.masked_number == f"**** **** {r.individual_number[-4:]}"
    assert r.individual_number not in repr(found)
    assert r.resident_code not in found.handle
    assert office.search(clerk.session, MAEBASHI, name="山田", date_of_birth=r.date_of_birth)
    assert office.search(clerk.session, MAEBASHI, kana="ハナコ%") == []  # no wildcard
    with pytest.raises(OpenMynaError) as empty:
        office.search(clerk.session, MAEBASHI, name=" ", kana="")
    assert empty.value.code == "INVALID_INPUT"
    search = office.staff.entries(MAEBASHI, limit=3)
    assert [e.action for e in search][:2] == ["resident.search", "resident.search"]
    assert search[0].outcome == "INVALID_INPUT"
    assert "山田" not in " ".join(e.detail for e in search)  # what was searched is not logged


def test_a_handle_works_only_for_its_session_and_municipality(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    resident(platform)
    office = platform.backoffice
    [found] = office.search(clerk.session, MAEBASHI, name="山田")
    assert office.resident(clerk.session, MAEBASHI, found.handle).resident.name == "山田 花子"
    other = _other_client(client)
    login(platform, other, clerk.person.card)  # the same person, another browser
    token = other.cookies.get("omyna_session")
    assert token is not None
    elsewhere = platform.portal.sessions.current(token)
    platform.backoffice.staff.grant(KOBE, clerk.member.account_id, Role.CLERK, "x", by=None)
    for session, lg_code in ((elsewhere, MAEBASHI), (clerk.session, KOBE)):
        with pytest.raises(OpenMynaError) as refused:
            office.resident(session, lg_code, found.handle)
        assert refused.value.code == "RESIDENT_HANDLE_NOT_FOUND"


def test_a_move_within_is_recorded_with_the_member_in_both_logs(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    r = resident(platform)
    office = platform.backoffice
    [found] = office.search(clerk.session, MAEBASHI, name="山田")
    with pytest.raises(OpenMynaError) as no_documents:
        office.move_within(
            clerk.session,
            MAEBASHI,
            found.handle,
            on=platform.clock.today(),
            address="群馬県前橋市千代田町一丁目1番1号",
            whole_household=False,
            documents=["学生証"],  # one 区分B document is not enough
        )
    assert no_documents.value.code == "IDENTITY_CHECK_REQUIRED"
    moved = office.move_within(
        clerk.session,
        MAEBASHI,
        found.handle,
        on=platform.clock.today(),
        address="群馬県前橋市千代田町一丁目1番1号",
        whole_household=False,
        documents=["学生証", "社員証"],
    )
    assert moved.address == "群馬県前橋市千代田町一丁目1番1号"
    done, refused = office.staff.entries(MAEBASHI, limit=3)[:2]
    assert (done.action, done.subject, done.outcome) == (
        "registry.move_within",
        r.resident_code,
        "done",
    )
    assert done.detail == "alone; documents: 学生証、社員証"
    assert refused.outcome == "IDENTITY_CHECK_REQUIRED"
    [audit] = [
        a
        for a in platform.registries.municipality(MAEBASHI).audit_entries(r.resident_code)
        if a.action == "registry.moved_within"
    ]
    assert audit.actor == f"staff:{clerk.member.account_id}"
    assert "本人確認書類 学生証、社員証" in audit.reason


def test_a_death_needs_a_supervisor(client: TestClient, platform: Platform) -> None:
    clerk = staff(platform, client, Role.CLERK)
    resident(platform)
    office = platform.backoffice
    [found] = office.search(clerk.session, MAEBASHI, name="山田")
    with pytest.raises(StaffRoleRequired):
        office.record_death(
            clerk.session, MAEBASHI, found.handle, on=platform.clock.today(), documents=["旅券"]
        )
    other = _other_client(client)
    boss = staff(platform, other, Role.SUPERVISOR, family="高橋", given="恵")
    [again] = office.search(boss.session, MAEBASHI, name="山田")
    removed = office.record_death(
        boss.session, MAEBASHI, again.handle, on=platform.clock.today(), documents=["旅券"]
    )
    assert (removed.current, removed.removal_reason) == (False, "死亡")


def test_the_back_office_store_matches_its_tables_and_its_log_is_append_only(
    settings: Settings, platform: Platform, client: TestClient
) -> None:
    staff(platform, client, Role.CLERK)
    store = open_store(settings, BACKOFFICE_KIND, BACKOFFICE_BODY)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
        for statement in ("UPDATE staff_log SET actor_name = 'someone'", "DELETE FROM staff_log"):
            with pytest.raises(DBAPIError), store.engine.begin() as conn:
                conn.execute(text(statement))
        with store.engine.connect() as conn:
            names = conn.execute(text("SELECT actor_name FROM staff_log")).scalars().all()
        assert names == ["operator"]
    finally:
        store.close()
