"""``openmyna demo``'s cards: who gets one, the files and the list, and logging in with them."""

from __future__ import annotations

import json

from openmyna.builder import Builder
from openmyna.card import CardStatus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.cards import issue_demo_cards
from openmyna.demo.seed import seed_demo
from openmyna.platform import Platform
from openmyna.portal.login.wallet import DemoWallet, cards_dir

ROLES = ["applicant", "spouse", "child", "minor", "elderly", "staff"]


def test_demo_cards_for_the_family_a_minor_an_elderly_person_and_staff(
    settings: Settings, clock: FixedClock
) -> None:
    platform = Platform(Builder(settings, clock))
    try:
        seed_demo(platform, 600, max_households=3)
        directory, cards, issued = issue_demo_cards(platform)
        assert directory == cards_dir(settings)
        assert [c.role for c in cards] == ROLES
        assert issued == len(ROLES)
        ages = {c.role: c.age for c in cards}
        assert 15 <= ages["minor"] <= 17
        assert ages["elderly"] >= 75
        assert ages["child"] < 15
        by_role = {c.role: c for c in cards}
        assert by_role["child"].sign_password is None  # no signature certificate under 15
        assert by_role["minor"].sign_password is not None
        assert by_role["staff"].lg_code == "281000"
        assert by_role["applicant"].label_ja.startswith("森田 健太（児童手当の申請者")
        listed = json.loads((directory / "cards.json").read_text(encoding="utf-8"))
        assert [c["name"] for c in listed["cards"]] == [c.name for c in cards]
        readme = (directory / "README.txt").read_text(encoding="utf-8")
        everyone = [
            r
            for m in platform.registries.list_municipalities()
            for r in platform.registries.municipality(m.lg_code).list_residents(limit=1000)
        ]
        text = readme + (directory / "cards.json").read_text(encoding="utf-8")
        for r in everyone:
            assert r.individual_number not in text
            assert r.resident_code not in text
        for card in cards:
            assert card.auth_pin in readme
            assert platform.cards.card(card.card_id).status is CardStatus.ACTIVE
        # Each card logs in through the wallet's card code and the login service.
        wallet = DemoWallet(directory, settings)
        logins = platform.portal.logins
        accounts = set()
        for card in cards:
            started = logins.start(origin="http://127.0.0.1:8000")
            answer = wallet.sign(card.name, started.request, card.auth_pin)
            logins.answer(started.request.request_id, answer.certificate, answer.signature)
            done = logins.collect(started.request.request_id, started.browser_secret)
            assert done is not None
            assert done.session is not None
            accounts.add(done.session.account_id)
        assert len(accounts) == len(cards)
    finally:
        platform.close()
    again = Platform(Builder(settings, clock))
    try:
        (directory / cards[0].file).unlink()  # a lost file: that card is issued again
        _, second, issued = issue_demo_cards(again)
        assert issued == 1
        assert [c.card_id for c in second[1:]] == [c.card_id for c in cards[1:]]
        assert second[0].card_id != cards[0].card_id
        assert again.cards.card(cards[0].card_id).status is CardStatus.REVOKED
    finally:
        again.close()
