"""Helpers shared by the card tests (imported as a plain module): a stub JPKI issuer, cards."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from openmyna.bus import Bus, Event
from openmyna.card import (
    CardClient,
    CardLifecycle,
    HolderData,
    MemoryTransport,
    Personalization,
    VirtualCard,
)
from openmyna.card.layout import KeyRef
from openmyna.card.personalize import jpki_public_key, new_card, personalize
from openmyna.card.signer import CardDataSigner
from openmyna.card.state import dump_card, load_card
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.law import may_hold_sign_cert
from openmyna.pki import SignCertUnderAge
from openmyna.registry import NewPerson, Registries, Resident, Sex

AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123XYZ"
TEXT_PIN = "5678"
NUMBER = "123456789018"
NOW = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)


@functools.cache
def _ca_key(which: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(ou: str, cn: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
    ]
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class StubJpki:
    """A tiny stand-in for ``openmyna.pki.Jpki`` with the same methods (tests only)."""

    OU: ClassVar[dict[str, str]] = {
        "auth": "JPKI for user authentication",
        "sign": "JPKI for digital signature",
    }

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now
        self.issued: list[tuple[str, str]] = []  # (kind, resident_code)
        #: (resident_code, card_id, serial) of each signature certificate, and those revoked.
        self.sign_certs: list[tuple[str, str | None, int]] = []
        self.revoked: list[int] = []
        self._cas = {k: self._ca(k) for k in ("auth", "sign")}

    def _ca(self, kind: str) -> x509.Certificate:
        key = _ca_key(kind)
        name = _name(self.OU[kind])
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(days=1))
            .not_valid_after(self.now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )

    @staticmethod
    def _kind(kind: Any) -> str:
        text = str(getattr(kind, "value", kind)).lower()
        return "auth" if "auth" in text else "sign"

    def ca_certificate(self, kind: Any) -> x509.Certificate:
        """The CA certificate of a kind."""
        return self._cas[self._kind(kind)]

    def _issue(self, kind: str, public_key: rsa.RSAPublicKey, expiry: dt.date) -> x509.Certificate:
        ca = self._cas[kind]
        end = dt.datetime.combine(expiry, dt.time(23, 59), tzinfo=dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(self.OU[kind], "stub"))
            .issuer_name(ca.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(minutes=1))
            .not_valid_after(end)
            .sign(_ca_key(kind), hashes.SHA256())
        )

    def issue_auth_cert(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        date_of_birth: dt.date,
        card_expiry: dt.date,
        card_id: str | None = None,
        stay_expires_on: dt.date | None = None,
    ) -> x509.Certificate:
        """An auth certificate."""
        self.issued.append(("auth", resident_code))
        return self._issue("auth", public_key, card_expiry)

    def issue_sign_cert(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        name: str,
        address: str,
        date_of_birth: dt.date,
        sex: int,
        card_expiry: dt.date,
        card_id: str | None = None,
        stay_expires_on: dt.date | None = None,
    ) -> x509.Certificate:
        """A signature certificate; refused under 15 like the real issuer."""
        if not may_hold_sign_cert(date_of_birth, self.now.date()):
            # The real issuer's error, so that no second class claims its code.
            raise SignCertUnderAge("no signature certificate under 15")
        self.issued.append(("sign", resident_code))
        cert = self._issue("sign", public_key, card_expiry)
        self.sign_certs.append((resident_code, card_id, cert.serial_number))
        return cert

    def revoke_for_resident(
        self,
        resident_code: str,
        kinds: Any,
        reason: Any,
        *,
        issued_up_to: dt.datetime | None = None,
        card_id: str | None = None,
        actor: str = "jpki",
    ) -> list[int]:
        """Revoke the signature certificates of a resident (and card) not yet revoked."""
        if {self._kind(k) for k in kinds} != {"sign"}:
            raise NotImplementedError("the stub revokes signature certificates only")
        done = [
            serial
            for code, card, serial in self.sign_certs
            if code == resident_code
            and (card_id is None or card == card_id)
            and serial not in self.revoked
        ]
        self.revoked.extend(done)
        return done


@functools.cache
def data_signer() -> CardDataSigner:
    """One card data signer for all tests."""
    return CardDataSigner.generate(FixedClock(NOW))


HOLDER = HolderData(
    individual_number=NUMBER,
    name="山田 太郎",
    address="群馬県前橋市大手町二丁目12番1号",
    date_of_birth=dt.date(1980, 5, 17),
    sex=1,
    card_expiry=dt.date(2035, 5, 17),
)


def personalized_card(
    *, with_sign_cert: bool = True, holder: HolderData = HOLDER, jpki: StubJpki | None = None
) -> VirtualCard:
    """A new card with keys generated and personalised with stub certificates."""
    jpki = jpki or StubJpki()
    card = new_card()
    auth = jpki.issue_auth_cert(
        jpki_public_key(card, KeyRef.AUTH),
        resident_code="00000000000",
        date_of_birth=holder.date_of_birth,
        card_expiry=holder.card_expiry,
    )
    sign = (
        jpki.issue_sign_cert(
            jpki_public_key(card, KeyRef.SIGN),
            resident_code="00000000000",
            name=holder.name,
            address=holder.address,
            date_of_birth=holder.date_of_birth,
            sex=holder.sex,
            card_expiry=holder.card_expiry,
        )
        if with_sign_cert
        else None
    )
    personalize(
        card,
        Personalization(
            holder=holder,
            auth_cert=auth,
            auth_ca=jpki.ca_certificate("auth"),
            sign_cert=sign,
            sign_ca=jpki.ca_certificate("sign"),
            auth_pin=AUTH_PIN,
            sign_password=SIGN_PASSWORD if with_sign_cert else None,
            text_pin=TEXT_PIN,
            signer=data_signer(),
        ),
    )
    return card


@functools.cache
def _template(with_sign_cert: bool) -> bytes:
    return dump_card(personalized_card(with_sign_cert=with_sign_cert))


def fresh_card(*, with_sign_cert: bool = True) -> VirtualCard:
    """A personalised card, copied from one made per test session (keys generated once)."""
    return load_card(_template(with_sign_cert))


def hexb(text: str) -> bytes:
    """Bytes from spaced hex (``"00 A4 04 0C"``)."""
    return bytes.fromhex(text.replace(" ", ""))


MAEBASHI = "102016"
KOBE = "281000"
CHECK = "photo ID at the counter"


@dataclass
class World:
    """Registries, the card lifecycle and a listener for card events, on one bus."""

    settings: Settings
    bus: Bus
    regs: Registries
    life: CardLifecycle
    jpki: StubJpki
    clock: FixedClock
    seen: list[Event]

    def card_events(self) -> list[tuple[str, str]]:
        """Card events so far: (type, card id)."""
        while self.bus.pump():
            pass
        return [(e.type, e.data["card_id"]) for e in self.seen]

    def adult(self, born: dt.date = dt.date(1980, 5, 17)) -> Resident:
        """A new resident of 前橋市 (moved in from abroad today)."""
        person = NewPerson("山田", "太郎", "ヤマダ", "タロウ", born, Sex.MALE)
        return self.regs.municipality(MAEBASHI).move_in_from_abroad(
            person, on=self.clock.today(), address="群馬県前橋市大手町二丁目12番1号"
        )

    def issue(self, code: str) -> tuple[str, CardClient]:
        """Apply and issue; the card id and a client on the card."""
        self.life.apply(code)
        issued = self.life.issue(
            code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
        )
        return issued.record.card_id, CardClient(MemoryTransport(issued.card))

    def later(self, days: int) -> None:
        """Move the clock."""
        self.clock.advance(dt.timedelta(days=days))
