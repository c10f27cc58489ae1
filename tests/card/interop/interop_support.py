"""Helpers shared by the PC/SC interop tests."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509

from openmyna.card.engine import VirtualCard
from openmyna.card.jpki import personalize_jpki
from openmyna.card.layout import EF_AUTH_KEY, EF_SIGN_KEY, JPKI_AID
from openmyna.card.transport.pcsc import wait_for_card
from openmyna.card.transport.vpcd import InsertedCard, ServedCard, inserted
from openmyna.numbers import resident_code_check_digit
from openmyna.pki import CertKind, Jpki

AUTH_PIN = "1234"
SIGN_PASSWORD = "OPENMYNA2026"
BORN = dt.date(1980, 5, 17)

# pcscd asks the vpcd reader for the ATR every 0.4 s (PCSCLITE_STATUS_POLL_RATE) to see
# whether a card is in it. A new card that connects before the next poll after the old one
# left is taken for the old card still being there (and a failed reset in SCardDisconnect
# already reports the reader empty), so a test waits one poll and a little more.
PCSCD_POLL_SECONDS = 0.4


@contextmanager
def card_in_reader(card: ServedCard, reader: str, port: int) -> Iterator[InsertedCard]:
    """Serve ``card`` through vpcd until pcscd shows it in ``reader``; take it out after."""
    with inserted(card, port=port) as handle:
        assert wait_for_card(reader, timeout=10), "pcscd does not show the inserted card"
        yield handle
    assert wait_for_card(reader, present=False, timeout=10), "pcscd still shows the card"
    time.sleep(PCSCD_POLL_SECONDS + 0.1)


@dataclass(frozen=True)
class IssuedCerts:
    """What the issuer wrote to a card, to compare with what PC/SC software reads."""

    auth_cert: x509.Certificate
    sign_cert: x509.Certificate
    auth_ca: x509.Certificate
    sign_ca: x509.Certificate


def issue_jpki(card: VirtualCard, jpki: Jpki, serial: int) -> IssuedCerts:
    """Certify the card's two keys with ``jpki`` and personalise its JPKI AP."""
    base = f"{1_000_000_000 + serial:010d}"
    code = base + str(resident_code_check_digit(base))
    expiry = jpki.clock.today() + dt.timedelta(days=3650)
    auth = jpki.issue_auth_cert(
        card.files.public_key(JPKI_AID, EF_AUTH_KEY),
        resident_code=code,
        date_of_birth=BORN,
        card_expiry=expiry,
        card_id=card.card_id,
    )
    sign = jpki.issue_sign_cert(
        card.files.public_key(JPKI_AID, EF_SIGN_KEY),
        resident_code=code,
        name="番号 花子",
        address="東京都千代田区永田町一丁目7番1号",
        date_of_birth=BORN,
        sex=2,
        card_expiry=expiry,
        card_id=card.card_id,
    )
    certs = IssuedCerts(
        auth, sign, jpki.ca_certificate(CertKind.AUTH), jpki.ca_certificate(CertKind.SIGN)
    )
    app = card.files.application(JPKI_AID)
    assert app is not None
    personalize_jpki(
        app,
        auth_cert=certs.auth_cert,
        auth_ca=certs.auth_ca,
        sign_cert=certs.sign_cert,
        sign_ca=certs.sign_ca,
        auth_pin=AUTH_PIN,
        sign_password=SIGN_PASSWORD,
    )
    return certs
