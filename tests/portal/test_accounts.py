"""Accounts: known by the portal's own code for the person, kept across card renewals."""

from __future__ import annotations

import pytest
from portal_helpers import authenticate, holder
from sqlalchemy import select

from openmyna.platform import Platform
from openmyna.portal.accounts import PORTAL_AGENCY
from openmyna.portal.errors import CertificateNotLinkable
from openmyna.portal.tables import account_certificates, accounts, login_history


def _all_stored(platform: Platform) -> str:
    with platform.portal.store.transaction() as s:
        rows = [
            *s.execute(select(accounts)).all(),
            *s.execute(select(account_certificates)).all(),
            *s.execute(select(login_history)).all(),
        ]
    return repr(rows)


def test_the_first_login_makes_an_account_under_the_portals_own_code(
    platform: Platform,
) -> None:
    hanako = holder(platform)
    result = authenticate(platform, hanako.card)
    account = platform.portal.accounts.for_login(result)
    number = hanako.resident.individual_number
    assert account.portal_code == platform.network.issue_code(PORTAL_AGENCY, number)
    assert platform.portal.accounts.for_login(result) == account  # the same certificate again
    stored = _all_stored(platform)
    assert number not in stored
    assert hanako.resident.resident_code not in stored
    assert hanako.resident.family_name not in stored
    assert number not in repr(account)
    assert [e.action for e in platform.portal.accounts.history(account.account_id)] == [
        "certificate_linked"
    ]


def test_a_renewed_card_logs_in_to_the_same_account(platform: Platform) -> None:
    hanako = holder(platform)
    first = platform.portal.accounts.for_login(authenticate(platform, hanako.card))
    reissued = platform.cards.reissue(
        hanako.resident.resident_code,
        auth_pin="1234",
        sign_password="ABC123XYZ",
        identity_check="旅券",
    )
    again = platform.portal.accounts.for_login(authenticate(platform, reissued.card))
    assert again.account_id == first.account_id
    assert len(platform.portal.accounts.subjects(first.account_id)) == 2
    with platform.portal.store.transaction() as s:
        how = s.scalars(select(account_certificates.c.linked_by)).all()
    assert sorted(how) == ["first_login", "issuer_linkage"]


def test_two_people_get_two_accounts(platform: Platform) -> None:
    a = platform.portal.accounts.for_login(authenticate(platform, holder(platform).card))
    b = platform.portal.accounts.for_login(
        authenticate(platform, holder(platform, "佐藤", "一郎").card)
    )
    assert a.account_id != b.account_id
    assert a.portal_code != b.portal_code


def test_a_holder_who_is_no_longer_a_resident_gets_no_account(platform: Platform) -> None:
    hanako = holder(platform)
    result = authenticate(platform, hanako.card)
    platform.registries.municipality("102016").record_death(
        hanako.resident.resident_code, on=platform.clock.today()
    )
    platform.sync_once()
    with pytest.raises(CertificateNotLinkable) as caught:
        platform.portal.accounts.for_login(result)
    assert caught.value.code == "PORTAL_CERT_NOT_LINKABLE"
