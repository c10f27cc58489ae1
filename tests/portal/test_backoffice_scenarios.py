"""The two e-application scenarios end to end from the portal (issue 10 §3 P5).

- 児童手当: a family that lived in 前橋市 (A) on 1 January claims at 神戸市 (B) with no tax
  certificate; B's supervisor looks up A's local tax over the network (under B's agency,
  recorded at the hub), sees it beside the income limit, approves, the notice arrives.
- 罹災証明書: a resident of 神戸市 applies, staff certify a damage grade, the notice says it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backoffice_helpers import KOBE, csrf, kobe_resident, staff
from eapply_helpers import CHILD_ALLOWANCE_ANSWERS
from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, Holder
from test_backoffice_applications import DISASTER_ANSWERS, submit

from openmyna.demo.family import FAMILY_FROM, FAMILY_INCOMES, FAMILY_TO
from openmyna.demo.network_seed import seed_network
from openmyna.network.agencies import municipality_agency_id
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.registry import Relationship

GRADE_NAMES = ("全壊", "大規模半壊", "中規模半壊", "半壊", "準半壊", "準半壊に至らない（一部損壊）")
CLAIM_AT_B = f"{FAMILY_TO}-child-allowance-claim"
DISASTER_AT_B = f"{KOBE}-disaster-certificate"


@pytest.fixture
def office(client: TestClient) -> Iterator[TestClient]:
    """The staff's browser on the same app."""
    with TestClient(client.app, base_url="http://127.0.0.1") as c:
        yield c


def _family_applicant(platform: Platform) -> Holder:
    """The scenario family made at A and moved to B, A's items seeded; the parent's card."""
    seeded = seed_network(platform.network, platform.registries, max_households=0)
    platform.sync_once()
    parent = seeded.family.applicant
    assert parent.lg_code == FAMILY_TO
    platform.cards.apply(parent.resident_code)
    issued = platform.cards.issue(
        parent.resident_code,
        auth_pin=AUTH_PIN,
        sign_password=SIGN_PASSWORD,
        identity_check="旅券",
    )
    return Holder(parent, issued.card)


def _step(office: TestClient, application_id: str, step: str, **data: str) -> str:
    path = f"/backoffice/{KOBE}/applications/{application_id}"
    token = csrf(office.get(path).text)
    went = office.post(f"{path}/{step}", data={**data, "csrf_token": token})
    assert went.status_code == 200, went.text
    return went.text


def test_child_allowance_at_b_with_a_s_local_tax_over_the_network(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    parent = _family_applicant(platform)
    number = parent.resident.individual_number
    application_id = submit(client, platform, parent, CLAIM_AT_B, CHILD_ALLOWANCE_ANSWERS)
    assert platform.portal.eapply.drafts.attachments(application_id) == []  # nothing attached

    staff(platform, office, Role.SUPERVISOR, KOBE, family="高橋", given="三郎")
    page = office.get(f"/backoffice/{KOBE}/applications/{application_id}").text
    assert number not in page
    assert f"**** **** {number[-4:]}" in page  # the claim's number, masked
    _step(office, application_id, "receive")
    before = {r.exchange_id for r in platform.network.records_for_number(number)}
    shown = _step(office, application_id, "local-tax")

    # B's page shows A's resident tax for the claimant, beside the income limit.
    income = FAMILY_INCOMES[Relationship.HEAD][0]
    assert f"{income:,}" in shown
    assert "兵庫県神戸市" in shown  # B (the desk) …
    assert "群馬県前橋市 から情報提供ネットワークシステムで取得しました" in shown  # … asked A
    assert "2025年度（2024年の所得）" in shown
    assert "令和6年10月分から所得制限は撤廃" in shown
    assert "所得による支給制限はありません" in shown
    assert number not in shown

    # The exchange was made by B's agency and recorded at the hub like any other.
    new = [r for r in platform.network.records_for_number(number) if r.exchange_id not in before]
    tax = [r for r in new if r.item == "local_tax"]
    assert len(tax) == 1
    assert tax[0].requester == municipality_agency_id(FAMILY_TO)
    assert tax[0].provider == municipality_agency_id(FAMILY_FROM)
    assert tax[0].affair == "child_allowance"
    assert str(tax[0].exchange_id) in shown
    logged = [
        e
        for e in platform.backoffice.staff.entries(KOBE)
        if e.action == "application.local_tax" and e.subject == application_id
    ]
    assert [e.outcome for e in logged] == ["done"]
    exchange_id = tax[0].exchange_id
    assert exchange_id is not None
    assert exchange_id in logged[0].detail

    # The decision, and the notice in the applicant's list.
    token = csrf(shown)
    decided = office.post(
        f"/backoffice/{KOBE}/applications/{application_id}/decide",
        data={"outcome": "approved", "reason": "所得制限なし", "csrf_token": token},
        follow_redirects=False,
    )
    assert decided.status_code == 303, decided.text
    assert platform.portal.eapply.office.get(KOBE, application_id).status is (
        ApplicationStatus.APPROVED
    )
    notices = client.get("/notices").text
    assert "決定のお知らせ：児童手当 認定請求" in notices
    status = client.get(f"/services/applications/{application_id}").text
    assert "決定（承認）" in status


def test_disaster_certificate_with_the_damage_grade_staff_chose(
    client: TestClient, office: TestClient, platform: Platform
) -> None:
    resident = kobe_resident(platform)
    platform.cards.apply(resident.resident_code)
    issued = platform.cards.issue(
        resident.resident_code,
        auth_pin=AUTH_PIN,
        sign_password=SIGN_PASSWORD,
        identity_check="旅券",
    )
    who = Holder(resident, issued.card)
    application_id = submit(client, platform, who, DISASTER_AT_B, DISASTER_ANSWERS)
    staff(platform, office, Role.SUPERVISOR, KOBE, family="高橋", given="三郎")
    page = office.get(f"/backoffice/{KOBE}/applications/{application_id}").text
    assert "屋根瓦の落下" in page
    _step(office, application_id, "receive")
    page = office.get(f"/backoffice/{KOBE}/applications/{application_id}").text
    for grade in GRADE_NAMES:
        assert f"{grade}（" in page
    token = csrf(page)
    went = office.post(
        f"/backoffice/{KOBE}/applications/{application_id}/decide",
        data={"outcome": "approved", "damage_grade": "large_half", "csrf_token": token},
        follow_redirects=False,
    )
    assert went.status_code == 303, went.text
    decided = office.get(went.headers["location"]).text
    assert "決定を記録し、申請者にお知らせを送りました。" in decided
    assert "大規模半壊" in decided

    listed = client.get("/notices").text
    assert "決定のお知らせ：罹災証明書 交付申請" in listed
    notice_id = (
        platform.portal.notices.page(
            platform.portal.eapply.office.get(KOBE, application_id).account_id
        )
        .notices[0]
        .notice_id
    )
    one = client.get(f"/notices/{notice_id}").text
    assert "罹災証明書に記載する住家の被害の程度：大規模半壊（損害割合40％以上50％未満）" in one
    assert f"/applications/{application_id}" in one
