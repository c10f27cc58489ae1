"""Helpers of the eKYC tests (imported as a plain module): card holders, a business, a query."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from openmyna.card import CardClient, KeyRef, MemoryTransport, PinRef, VirtualCard
from openmyna.card.eapply_app import sign_document
from openmyna.card.layout import CertSlot
from openmyna.ekyc import Business, IssuedKey
from openmyna.platform import Platform
from openmyna.registry import NewPerson, Resident, Sex

AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123XYZ"
MAEBASHI = "102016"
ADDRESS = "群馬県前橋市大手町二丁目12番1号"
BORN = dt.date(1985, 2, 3)


@dataclass(frozen=True)
class Holder:
    """A resident and their card."""

    resident: Resident
    card: VirtualCard


@dataclass(frozen=True)
class Registered:
    """A business and its API key."""

    business: Business
    key: IssuedKey

    @property
    def headers(self) -> dict[str, str]:
        """The business's Authorization header."""
        return {"Authorization": f"Bearer {self.key.key}"}


def holder(platform: Platform, family: str = "山田", given: str = "花子") -> Holder:
    """A new resident of 前橋市 with a card issued by the real JPKI issuer."""
    regs = platform.registries
    if not any(m.lg_code == MAEBASHI for m in regs.list_municipalities()):
        regs.add_municipality(MAEBASHI)
    person = NewPerson(family, given, "ヤマダ", "ハナコ", BORN, Sex.FEMALE)
    r = regs.municipality(MAEBASHI).move_in_from_abroad(
        person, on=platform.clock.today(), address=ADDRESS
    )
    platform.sync_once()  # the identity index follows the registry
    platform.cards.apply(r.resident_code)
    issued = platform.cards.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check="旅券"
    )
    return Holder(r, issued.card)


def register(platform: Platform, name: str = "みどり銀行", price_yen: int = 20) -> Registered:
    """A business registered by the operator."""
    business, key = platform.builder.ekyc().add_business(
        name, "kyc@midori-bank.example", price_yen=price_yen
    )
    return Registered(business, key)


def challenge() -> bytes:
    """A business's fresh challenge."""
    return b"midori-bank account opening " + secrets.token_hex(16).encode("ascii")


def cms_by(platform: Platform, card: VirtualCard, data: bytes) -> bytes:
    """The card's detached CMS signature over ``data`` (signature key and password)."""
    chip = CardClient(MemoryTransport(card))
    return sign_document(chip, SIGN_PASSWORD, data, signing_time=platform.clock.now())


def raw_by(card: VirtualCard, data: bytes, key: KeyRef = KeyRef.SIGN) -> tuple[bytes, bytes]:
    """(certificate DER, PKCS#1 v1.5 signature) by one of the card's keys."""
    chip = CardClient(MemoryTransport(card))
    if key is KeyRef.SIGN:
        signature = chip.sign(key, SIGN_PASSWORD, data=data)
        chip.verify(PinRef.SIGN, SIGN_PASSWORD)  # the signature certificate needs it
        return chip.certificate_der(CertSlot.SIGN), signature
    signature = chip.sign(key, AUTH_PIN, data=data)
    return chip.certificate_der(CertSlot.AUTH), signature


def b64(raw: bytes) -> str:
    """Base64 text."""
    return base64.b64encode(raw).decode("ascii")


def post_cms(client: TestClient, who: Registered, cms: bytes, data: bytes) -> Any:
    """POST /api/ekyc/verifications with a CMS signature."""
    return client.post(
        "/api/ekyc/verifications", json={"cms": b64(cms), "data": b64(data)}, headers=who.headers
    )


def post_raw(client: TestClient, who: Registered, cert: bytes, data: bytes, sig: bytes) -> Any:
    """POST /api/ekyc/verifications with a raw signature and its certificate."""
    return client.post(
        "/api/ekyc/verifications",
        json={"certificate": b64(cert), "data": b64(data), "signature": b64(sig)},
        headers=who.headers,
    )
