"""Revocation (J2): direct calls, and registry and card events on both buses and both backends."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import card_event, issue_both, make_jpki, registry_event, resident_code

from openmyna.builder import Builder
from openmyna.bus import Bus, new_event, open_bus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import (
    CertificateAlreadyRevoked,
    CertificateNotFound,
    CertKind,
    CertStatus,
    Jpki,
    RevocationReason,
)
from openmyna.pki.ca import CertificateAuthority
from openmyna.pki.status import ocsp_request, parse_ocsp_response
from openmyna.registry import NewPerson, Sex

Certs = tuple[x509.Certificate, x509.Certificate]


def _issue(jpki: Jpki, key: rsa.RSAPrivateKey, code: str, **kw: object) -> Certs:
    auth, sig = issue_both(jpki, key, code, **kw)  # type: ignore[arg-type]
    assert isinstance(auth, x509.Certificate)
    assert isinstance(sig, x509.Certificate)
    return auth, sig


def _statuses(jpki: Jpki, certs: Certs) -> tuple[CertStatus, CertStatus]:
    return jpki.status(certs[0].serial_number), jpki.status(certs[1].serial_number)


def _pump_until(bus: Bus, done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "events were not applied in time"
        bus.pump(timeout=0.2)


@pytest.fixture
def evented(
    bus_settings: Settings,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
) -> Iterator[tuple[Jpki, Bus]]:
    """The issuer subscribed to a bus: local (SQLite) and NATS JetStream."""
    jpki = make_jpki(bus_settings, clock, authorities, key_template)
    bus = open_bus(bus_settings, ack_wait=1.0)
    jpki.subscribe(bus)
    yield jpki, bus
    bus.close()
    jpki.close()


GOOD, SUSPENDED, REVOKED = CertStatus.GOOD, CertStatus.SUSPENDED, CertStatus.REVOKED


def test_registry_and_card_events_revoke_and_suspend(
    evented: tuple[Jpki, Bus], ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    jpki, bus = evented
    kinds = ["moved_out", "moved_in", "moved_within", "name_changed", "died", "moved_abroad"]
    people = {k: _issue(jpki, ee_key, resident_code(i)) for i, k in enumerate(kinds)}
    card_holder = _issue(jpki, ee_key, resident_code(50), card_id="card-1")
    bystander = _issue(jpki, ee_key, resident_code(60))
    clock.advance(dt.timedelta(minutes=1))
    events = [registry_event(k, resident_code(i), clock.now()) for i, k in enumerate(kinds)]
    events.append(card_event("lost", resident_code(50), clock.now()))
    bus.publish(events)
    _pump_until(bus, lambda: jpki.status(card_holder[0].serial_number) is SUSPENDED)

    for k in ("moved_out", "moved_in", "moved_within", "name_changed"):
        assert _statuses(jpki, people[k]) == (GOOD, REVOKED), k
        assert jpki.record(people[k][1].serial_number).reason is (
            RevocationReason.AFFILIATION_CHANGED
        )
    for k in ("died", "moved_abroad"):
        assert _statuses(jpki, people[k]) == (REVOKED, REVOKED), k
        assert jpki.record(people[k][0].serial_number).reason is (
            RevocationReason.CESSATION_OF_OPERATION
        )
    assert _statuses(jpki, card_holder) == (SUSPENDED, SUSPENDED)
    assert jpki.record(card_holder[0].serial_number).reason is RevocationReason.CERTIFICATE_HOLD
    assert _statuses(jpki, bystander) == (GOOD, GOOD)

    clock.advance(dt.timedelta(minutes=1))
    bus.publish([card_event("found", resident_code(50), clock.now())])
    _pump_until(bus, lambda: jpki.status(card_holder[0].serial_number) is GOOD)
    assert _statuses(jpki, card_holder) == (GOOD, GOOD)

    bus.publish([card_event("returned", resident_code(50), clock.now())])
    _pump_until(bus, lambda: jpki.status(card_holder[0].serial_number) is REVOKED)
    assert _statuses(jpki, card_holder) == (REVOKED, REVOKED)
    actions = [e.action.value for e in jpki.revocation_log(card_holder[1].serial_number)]
    assert actions == ["suspend", "resume", "revoke"]
    assert all(e.actor == "pki-revoker" for e in jpki.revocation_log())


def test_a_redelivered_event_is_applied_once(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    auth, sig = _issue(jpki, ee_key, resident_code(1))
    lost = card_event("lost", resident_code(1), clock.now())
    found = card_event("found", resident_code(1), clock.now())
    jpki.handle(lost)
    jpki.handle(found)
    jpki.handle(lost)  # redelivered after the card was found: must not suspend again
    assert _statuses(jpki, (auth, sig)) == (GOOD, GOOD)
    assert len(jpki.revocation_log(auth.serial_number)) == 2
    moved = registry_event("moved_within", resident_code(1), clock.now())
    jpki.handle(moved)
    # the OCSP response was signed again as the event was applied: served from the cache
    sign_ca = jpki.ca_certificate(CertKind.SIGN)
    cached = jpki.ocsp.cached(ocsp_request(sig, sign_ca))
    assert cached is not None
    assert parse_ocsp_response(cached, sig, sign_ca, clock.now()).state.value == "revoked"
    jpki.handle(moved)
    log = jpki.revocation_log(sig.serial_number)
    assert [e.action.value for e in log] == ["suspend", "resume", "revoke"]
    assert log[-1].event_id == moved.id
    # the same fact told again under another id changes nothing either
    jpki.handle(registry_event("moved_within", resident_code(1), clock.now()))
    assert len(jpki.revocation_log(sig.serial_number)) == 3


def test_a_certificate_issued_after_the_event_is_not_revoked(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    code = resident_code(2)
    _, old_sign = _issue(jpki, ee_key, code)
    moved = registry_event("moved_within", code, clock.now())
    clock.advance(dt.timedelta(minutes=5))
    new_sign = jpki.issue_sign_cert(
        ee_key.public_key(),
        resident_code=code,
        name="山田 太郎",
        address="群馬県前橋市千代田町1番",
        date_of_birth=dt.date(1980, 5, 17),
        sex=1,
        card_expiry=None,
    )
    jpki.handle(moved)  # delivered late, after the new certificate was issued
    assert jpki.status(old_sign.serial_number) is REVOKED
    assert jpki.status(new_sign.serial_number) is GOOD


def test_card_events_only_touch_that_card(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    code = resident_code(3)
    old = _issue(jpki, ee_key, code, card_id="card-old")
    new = _issue(jpki, ee_key, code, card_id="card-new")
    jpki.handle(card_event("lost", code, clock.now(), card_id="card-old"))
    assert _statuses(jpki, old) == (SUSPENDED, SUSPENDED)
    assert _statuses(jpki, new) == (GOOD, GOOD)


def test_events_without_a_resident_are_ignored(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    certs = _issue(jpki, ee_key, resident_code(4))
    batch = new_event(
        "registry.registered",
        "registry.102016",
        clock.now(),
        {"lg_code": "102016", "residents": [{"resident_code": resident_code(4)}]},
    )
    jpki.handle(batch)
    jpki.handle(new_event("registry.died", "registry.102016", clock.now(), {"lg_code": "102016"}))
    jpki.handle(registry_event("birth", resident_code(4), clock.now()))
    assert _statuses(jpki, certs) == (GOOD, GOOD)
    assert jpki.revocation_log() == []


def test_direct_revocation_suspension_and_errors(jpki: Jpki, ee_key: rsa.RSAPrivateKey) -> None:
    auth, sig = _issue(jpki, ee_key, resident_code(5))
    assert jpki.suspend(auth.serial_number) is True
    assert jpki.suspend(auth.serial_number) is False
    assert jpki.status(auth.serial_number) is SUSPENDED
    assert jpki.resume(auth.serial_number) is True
    assert jpki.resume(auth.serial_number) is False
    assert jpki.revoke(auth.serial_number, RevocationReason.KEY_COMPROMISE) is True
    assert jpki.revoke(auth.serial_number) is False
    record = jpki.record(auth.serial_number)
    assert record.status is REVOKED
    assert record.reason is RevocationReason.KEY_COMPROMISE
    with pytest.raises(CertificateAlreadyRevoked) as err:
        jpki.suspend(auth.serial_number)
    assert err.value.code == "CERT_ALREADY_REVOKED"
    with pytest.raises(CertificateAlreadyRevoked):
        jpki.resume(auth.serial_number)
    with pytest.raises(CertificateNotFound) as missing:
        jpki.status(12345)
    assert missing.value.code == "CERT_NOT_FOUND"
    assert jpki.revoke_for_resident(resident_code(5), [CertKind.SIGN]) == [sig.serial_number]
    assert jpki.revoke_for_resident(resident_code(5)) == []
    assert [e.action.value for e in jpki.revocation_log()] == [
        "suspend",
        "resume",
        "revoke",
        "revoke",
    ]


def test_the_registry_drives_revocation_end_to_end(
    settings: Settings,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
    ee_key: rsa.RSAPrivateKey,
) -> None:
    parts = Builder(settings, clock)
    jpki = make_jpki(settings, clock, authorities, key_template)
    bus = parts.bus()
    jpki.subscribe(bus)
    regs = parts.registries()
    try:
        regs.add_municipality("102016")
        maebashi = regs.municipality("102016")
        person = NewPerson(
            family_name="山田",
            given_name="太郎",
            family_name_kana="ヤマダ",
            given_name_kana="タロウ",
            date_of_birth=dt.date(1980, 5, 17),
            sex=Sex.MALE,
        )
        r = maebashi.move_in_from_abroad(
            person, on=dt.date(2026, 3, 1), address="群馬県前橋市大手町1番", from_country="USA"
        )
        regs.sync()
        certs = _issue(jpki, ee_key, r.resident_code)
        clock.advance(dt.timedelta(hours=1))
        maebashi.move_within(r.resident_code, on=clock.today(), address="群馬県前橋市千代田町1番")
        regs.sync()
        assert _statuses(jpki, certs) == (GOOD, REVOKED)
        maebashi.record_death(r.resident_code, on=clock.today())
        regs.sync()
        assert _statuses(jpki, certs) == (REVOKED, REVOKED)
    finally:
        parts.close()
        jpki.close()


def test_a_follower_reads_the_log_after_its_cursor_up_to_what_ocsp_reflects(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    auth, sig = _issue(jpki, ee_key, resident_code(41))
    start = jpki.status_position()
    assert jpki.revocation_changes(start) == []
    jpki.suspend(auth.serial_number)
    jpki.revoke(sig.serial_number)
    rows = jpki.revocation_changes(start)
    assert [(r.serial, r.action.value) for r in rows] == [
        (auth.serial_number, "suspend"),
        (sig.serial_number, "revoke"),
    ]
    # A change made through this issuer is in its OCSP answers at once.
    assert jpki.status_position() == rows[-1].id
    assert jpki.revocation_changes(rows[0].id, limit=1) == rows[1:]


def test_a_relying_party_forgets_one_certificates_cached_status(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    from openmyna.pki import RevocationChecker, RevocationState

    auth, _ = _issue(jpki, ee_key, resident_code(42))
    checker = RevocationChecker(clock, ocsp_fetch=jpki.ocsp_fetcher())
    anchor = jpki.ca_certificate(CertKind.AUTH)
    assert checker.check(auth, anchor).state is RevocationState.GOOD
    jpki.revoke(auth.serial_number)
    assert checker.check(auth, anchor).state is RevocationState.GOOD  # cached
    checker.forget_certificate(anchor.subject.public_bytes(), auth.serial_number)
    assert checker.check(auth, anchor).state is RevocationState.REVOKED
