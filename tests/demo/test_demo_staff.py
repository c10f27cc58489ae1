"""``openmyna demo``'s staff member: their card's account is an administrator of 神戸市."""

from __future__ import annotations

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.cards import STAFF_ROLE, issue_demo_cards
from openmyna.demo.seed import seed_demo
from openmyna.platform import Platform
from openmyna.portal.backoffice.enrol import holder_account


def test_the_demo_staff_card_opens_the_back_office_of_its_municipality(
    settings: Settings, clock: FixedClock
) -> None:
    platform = Platform(Builder(settings, clock))
    try:
        seed_demo(platform, 600, max_households=3)
        directory, cards, _ = issue_demo_cards(platform)
        [staff] = [c for c in cards if c.role == "staff"]
        with CardFile.open(directory / staff.file, settings=settings) as f:
            client = CardClient(MemoryTransport(f.card))
            _, account = holder_account(platform.portal, client, staff.auth_pin)
        [grant] = platform.backoffice.staff.grants_of(account.account_id)
        assert (grant.lg_code, grant.role) == (staff.lg_code, STAFF_ROLE)
        assert grant.name == staff.label_ja.split("（")[0]
        issue_demo_cards(platform)  # a second run grants nothing again
        log = platform.backoffice.staff.entries(staff.lg_code)
        assert [(e.action, e.actor_name) for e in log] == [("staff.grant", "operator")]
    finally:
        platform.close()
