"""公金決済 (P6): an agency asks, the person pays once through the provider, a receipt."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from portal_helpers import Holder, holder, login

from openmyna.errors import InvalidInput
from openmyna.platform import Platform
from openmyna.portal.payments.service import Payment

MAEBASHI_AGENCY = "lg-102016"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"


def _ask(
    platform: Platform, who: Holder, *, purpose: str = "住民票の写し 交付手数料", key: str = "fee-1"
) -> Payment:
    code = platform.network.issue_code(MAEBASHI_AGENCY, who.resident.individual_number)
    return platform.portal.payments.request(
        MAEBASHI_AGENCY,
        code,
        purpose=purpose,
        amount=300,
        due_on=dt.date(2026, 4, 30),
        agency_key=key,
    )


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found is not None, name
    return found.group(1)


def _checkout(client: TestClient, payment_id: str, method: str = "card") -> str:
    page = client.get(f"/payments/{payment_id}").text
    form = {
        "csrf_token": _field(page, "csrf_token"),
        "attempt_id": _field(page, "attempt_id"),
        "method": method,
    }
    went = client.post(f"/payments/{payment_id}/pay", data=form, follow_redirects=False)
    assert went.status_code == 303, went.text
    return str(went.headers["location"])


def _provider_pays(client: TestClient, checkout: str, card: str | None = CARD_OK) -> str:
    data = {} if card is None else {"card_number": card}
    back = client.post(checkout, data=data, follow_redirects=False)
    assert back.status_code == 303, back.text
    return str(back.headers["location"])


def test_the_person_pays_by_card_and_gets_a_receipt(client: TestClient, platform: Platform) -> None:
    hanako = holder(platform)
    payment = _ask(platform, hanako)
    account = login(platform, client, hanako.card)
    listing = client.get("/payments").text
    assert "住民票の写し 交付手数料" in listing
    assert "300 円" in listing
    assert "群馬県前橋市" in listing
    checkout = _checkout(client, payment.payment_id)
    assert checkout.startswith("/payment-provider/checkout/")
    assert "決済代行" in client.get(checkout).text
    back = _provider_pays(client, checkout)
    assert back.startswith("/payments/return?")
    receipt = client.get(back)
    paid = platform.portal.payments.get(account.portal_code, payment.payment_id)
    assert paid.status == "paid"
    assert paid.receipt_number is not None
    assert paid.receipt_number in receipt.text
    assert "領収証書" in receipt.text
    assert hanako.resident.individual_number not in receipt.text
    # paying again is refused: the payment is closed
    page = client.get(f"/payments/{payment.payment_id}").text
    assert 'name="attempt_id"' not in page
    assert platform.portal.payments.attempts(account.portal_code, payment.payment_id) == [
        ("card", "succeeded")
    ]


def test_pay_easy_and_a_declined_card(client: TestClient, platform: Platform) -> None:
    hanako = holder(platform)
    payment = _ask(platform, hanako)
    account = login(platform, client, hanako.card)
    declined = client.get(
        _provider_pays(client, _checkout(client, payment.payment_id), CARD_DECLINED)
    )
    assert "承認されませんでした" in declined.text
    assert platform.portal.payments.get(account.portal_code, payment.payment_id).status == "pending"
    client.get(_provider_pays(client, _checkout(client, payment.payment_id, "payeasy"), None))
    assert platform.portal.payments.get(account.portal_code, payment.payment_id).status == "paid"
    assert platform.portal.payments.attempts(account.portal_code, payment.payment_id) == [
        ("card", "declined"),
        ("payeasy", "succeeded"),
    ]


def test_a_double_submit_is_one_attempt_and_two_checkouts_are_one_charge(
    client: TestClient, platform: Platform
) -> None:
    hanako = holder(platform)
    payment = _ask(platform, hanako)
    account = login(platform, client, hanako.card)
    page = client.get(f"/payments/{payment.payment_id}").text
    form = {
        "csrf_token": _field(page, "csrf_token"),
        "attempt_id": _field(page, "attempt_id"),
        "method": "card",
    }
    first = client.post(f"/payments/{payment.payment_id}/pay", data=form, follow_redirects=False)
    again = client.post(f"/payments/{payment.payment_id}/pay", data=form, follow_redirects=False)
    assert first.headers["location"] == again.headers["location"]
    other = _checkout(client, payment.payment_id)  # a second tab: a new attempt
    back_one = _provider_pays(client, str(first.headers["location"]))
    back_two = _provider_pays(client, other)
    client.get(back_one)
    client.get(back_two)
    statuses = platform.portal.payments.attempts(account.portal_code, payment.payment_id)
    assert sorted(statuses) == [("card", "duplicate"), ("card", "succeeded")]
    provider = platform.portal.payments.provider
    charged = {
        provider.charge(u.rsplit("/", 1)[-1]).provider_ref
        for u in (str(first.headers["location"]), other)
    }
    assert len(charged) == 1  # the provider charged the payment once


def test_a_forged_return_is_refused(client: TestClient, platform: Platform) -> None:
    hanako = holder(platform)
    payment = _ask(platform, hanako)
    account = login(platform, client, hanako.card)
    checkout = _checkout(client, payment.payment_id)
    ref = checkout.rsplit("/", 1)[-1]
    forged = client.get(
        "/payments/return", params={"ref": ref, "outcome": "succeeded", "sig": "00" * 32}
    )
    assert forged.status_code == 400
    assert "PAYMENT_RETURN_REFUSED" in forged.text
    assert platform.portal.payments.get(account.portal_code, payment.payment_id).status == "pending"


def test_another_persons_payment_is_not_found_and_forms_need_csrf(
    client: TestClient, platform: Platform
) -> None:
    hanako = holder(platform)
    payment = _ask(platform, hanako)
    login(platform, client, holder(platform, "佐藤", "一郎").card)
    assert client.get(f"/payments/{payment.payment_id}").status_code == 404
    assert "住民票の写し" not in client.get("/payments").text
    refused = client.post(
        f"/payments/{payment.payment_id}/pay", data={"method": "card", "attempt_id": "a" * 32}
    )
    assert refused.status_code == 403


def test_requests_are_idempotent_per_agency_key_and_bounded(platform: Platform) -> None:
    hanako = holder(platform)
    first = _ask(platform, hanako)
    assert _ask(platform, hanako).payment_id == first.payment_id
    assert _ask(platform, hanako, key="fee-2").payment_id != first.payment_id
    code = platform.network.issue_code(MAEBASHI_AGENCY, hanako.resident.individual_number)
    for amount in (0, -1, 10_000_000):
        with pytest.raises(InvalidInput):
            platform.portal.payments.request(
                MAEBASHI_AGENCY,
                code,
                purpose="x",
                amount=amount,
                due_on=dt.date(2026, 5, 1),
                agency_key="k",
            )


def test_a_purpose_with_markup_is_shown_as_text(client: TestClient, platform: Platform) -> None:
    hanako = holder(platform)
    payment = _ask(platform, hanako, purpose="<script>alert(1)</script>手数料", key="xss")
    login(platform, client, hanako.card)
    page = client.get(f"/payments/{payment.payment_id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
