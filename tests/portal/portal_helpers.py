"""Helpers of the portal tests (imported as a plain module): people with cards, logged in.

``login`` stands in for the login flow (built by the login part of the portal): the card
signs a challenge with its auth key, the JPKI verifier checks it, the portal finds or makes
the account and opens a session, whose cookie is set on the test client.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from fastapi.testclient import TestClient

from openmyna.card import CardClient, KeyRef, MemoryTransport, VirtualCard
from openmyna.pki import CertKind, RevocationChecker, Verifier
from openmyna.pki.verify import AuthResult
from openmyna.platform import Platform
from openmyna.portal.accounts import Account
from openmyna.portal.sessions import COOKIE
from openmyna.registry import NewPerson, Resident, Sex

AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123XYZ"
MAEBASHI = "102016"


@dataclass(frozen=True)
class Holder:
    """A resident and their card."""

    resident: Resident
    card: VirtualCard


def resident(platform: Platform, family: str = "山田", given: str = "花子") -> Resident:
    """A new resident of 前橋市 (moved in from abroad today)."""
    regs = platform.registries
    if not any(m.lg_code == MAEBASHI for m in regs.list_municipalities()):
        regs.add_municipality(MAEBASHI)
    person = NewPerson(family, given, "ヤマダ", "ハナコ", dt.date(1985, 2, 3), Sex.FEMALE)
    r = regs.municipality(MAEBASHI).move_in_from_abroad(
        person, on=platform.clock.today(), address="群馬県前橋市大手町二丁目12番1号"
    )
    platform.sync_once()  # the identity index follows the registry
    return r


def holder(platform: Platform, family: str = "山田", given: str = "花子") -> Holder:
    """A resident with a card issued by the real JPKI issuer."""
    r = resident(platform, family, given)
    platform.cards.apply(r.resident_code)
    issued = platform.cards.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check="旅券"
    )
    return Holder(r, issued.card)


def verifier(platform: Platform) -> Verifier:
    """A relying party's verifier on the installation's JPKI (in-process OCSP)."""
    jpki = platform.jpki
    return Verifier(
        {k: jpki.ca_certificate(k) for k in CertKind},
        platform.clock,
        revocation=RevocationChecker(platform.clock, ocsp_fetch=jpki.ocsp_fetcher()),
    )


def authenticate(platform: Platform, card: VirtualCard) -> AuthResult:
    """The card signs a fresh challenge with its auth key; the verifier checks it."""
    chip = CardClient(MemoryTransport(card))
    challenge = secrets.token_bytes(32)
    signature = chip.sign(KeyRef.AUTH, AUTH_PIN, data=challenge)
    return verifier(platform).verify_auth(chip.auth_certificate(), challenge, signature)


def login(platform: Platform, client: TestClient, card: VirtualCard) -> Account:
    """Log ``card``'s holder in on ``client`` (a session cookie); their account."""
    result = authenticate(platform, card)
    portal = platform.portal
    account = portal.accounts.for_login(result)
    token, _ = portal.sessions.create(account.account_id, result.subject_id, user_agent="test")
    client.cookies.set(COOKIE, token)
    return account
