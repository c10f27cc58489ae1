"""Issuance with the real JPKI issuer (openmyna.pki), read and used through ``CardClient``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from card_helpers import AUTH_PIN, SIGN_PASSWORD

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, CardLifecycle, KeyRef, open_transport
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import CertKind, CertStatus, Jpki, Verifier
from openmyna.registry import NewPerson, Registries, Sex

MAEBASHI = "102016"


@pytest.fixture
def setup(
    tmp_path: Path,
) -> Iterator[tuple[Settings, FixedClock, Registries, CardLifecycle, Jpki]]:
    """Registries, the real issuer (subscribed to card events) and the card lifecycle."""
    settings = Settings(data_dir=tmp_path / "data")
    clock = FixedClock(dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC))
    with Builder(settings, clock) as parts:
        regs = parts.registries()
        regs.add_municipality(MAEBASHI)
        jpki = parts.jpki(follow_events=True)  # the revoker follows card events
        yield settings, clock, regs, parts.cards(), jpki


def test_a_card_issued_by_jpki_authenticates_and_signs(
    setup: tuple[Settings, FixedClock, Registries, CardLifecycle, Jpki], tmp_path: Path
) -> None:
    settings, clock, regs, life, jpki = setup
    person = NewPerson("佐藤", "花子", "サトウ", "ハナコ", dt.date(1985, 2, 3), Sex.FEMALE)
    r = regs.municipality(MAEBASHI).move_in_from_abroad(
        person, on=clock.today(), address="群馬県前橋市大手町一丁目1番"
    )
    life.apply(r.resident_code)
    issued = life.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check="passport"
    )
    path = tmp_path / "hanako.card"
    CardFile.create(path, issued.card, settings=settings).close()

    verifier = Verifier(
        {kind: jpki.ca_certificate(kind) for kind in CertKind}, clock, revocation=None
    )
    with CardClient(open_transport(str(path), settings=settings)) as client:
        challenge = b"portal login challenge 0001"
        signature = client.sign(KeyRef.AUTH, AUTH_PIN, data=challenge)
        result = verifier.verify_auth(client.auth_certificate(), challenge, signature)
        assert result.serial == int(issued.record.auth_cert_serial, 16)
        document = b"an application form"
        signed = client.sign(KeyRef.SIGN, SIGN_PASSWORD, data=document)
        sign_cert = client.sign_certificate()
        outcome = verifier.verify_signature(sign_cert, document, signed)
        assert outcome.items.name == "佐藤 花子"
        assert outcome.items.address == "群馬県前橋市大手町一丁目1番"

    life.report_lost(issued.record.card_id)
    life.bus.pump()  # type: ignore[union-attr]
    assert jpki.status(result.serial) is CertStatus.SUSPENDED
    life.report_found(issued.record.card_id)
    life.bus.pump()  # type: ignore[union-attr]
    assert jpki.status(result.serial) is CertStatus.GOOD
