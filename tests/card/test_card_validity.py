"""Card and certificate validity by law, with the real JPKI issuer (not the stub).

The card lifecycle and the issuer count ages with the same rule (``openmyna.law``), so a card
cannot be issued without the signature certificate its holder may have.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from card_helpers import AUTH_PIN, SIGN_PASSWORD

from openmyna.builder import Builder
from openmyna.card import CardClient, CardLifecycle, MemoryTransport, PeriodOfStayEnded
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import CertKind, Jpki
from openmyna.pki.profiles import end_of_day
from openmyna.registry import NewPerson, Registries, Resident, Sex

MAEBASHI = "102016"
CHECK = "passport checked at the counter"
D = dt.date


class Counter:
    """Registries, the card lifecycle and the real JPKI issuer on one clock."""

    def __init__(self, parts: Builder, clock: FixedClock) -> None:
        self.clock = clock
        self.regs: Registries = parts.registries()
        self.regs.add_municipality(MAEBASHI)
        self.jpki: Jpki = parts.jpki()
        self.life: CardLifecycle = parts.cards()
        self._n = 0

    def resident(self, born: dt.date, *, stay: dt.date | None = None) -> Resident:
        """A new resident (moved in from abroad today), with a period of stay if given."""
        self._n += 1
        person = NewPerson(
            "佐藤", f"花子{self._n}", "サトウ", "ハナコ", born, Sex.FEMALE, stay_expires_on=stay
        )
        return self.regs.municipality(MAEBASHI).move_in_from_abroad(
            person, on=self.clock.today(), address=f"群馬県前橋市大手町一丁目{self._n}番"
        )

    def later(self, days: int) -> None:
        """Move the clock on."""
        self.clock.advance(dt.timedelta(days=days))


def _counter(tmp_path: Path, day: dt.date) -> Iterator[Counter]:
    # 03:00 UTC is noon in Japan: the clock's date is ``day`` there.
    clock = FixedClock(dt.datetime.combine(day, dt.time(3, 0), dt.UTC))
    with Builder(Settings(data_dir=tmp_path / "data"), clock) as parts:
        yield Counter(parts, clock)


@pytest.fixture
def leap_counter(tmp_path: Path) -> Iterator[Counter]:
    """The counter on 2023-02-28, a common year's last day of February."""
    yield from _counter(tmp_path, D(2023, 2, 28))


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[Counter]:
    """The counter on 2026-04-01."""
    yield from _counter(tmp_path, D(2026, 4, 1))


def test_born_on_29_february_gets_the_signature_certificate_on_28_february_at_15(
    leap_counter: Counter,
) -> None:
    c = leap_counter
    r = c.resident(D(2008, 2, 29))  # 15 at the end of 2023-02-28 (民法 第143条 第2項)
    c.life.apply(r.resident_code)
    issued = c.life.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
    )
    assert issued.record.sign_cert_serial is not None
    assert [x.kind for x in c.jpki.certificates_of(r.resident_code)] == [
        CertKind.AUTH,
        CertKind.SIGN,
    ]
    sign = CardClient(MemoryTransport(issued.card)).sign_certificate(SIGN_PASSWORD)
    assert format(sign.serial_number, "X") == issued.record.sign_cert_serial
    # A minor's card (under 18 on the application day): the 5th birthday after issue.
    assert issued.record.expires_on == D(2028, 2, 29)


def test_one_day_younger_gets_none_and_needs_no_password(leap_counter: Counter) -> None:
    c = leap_counter
    r = c.resident(D(2008, 3, 2))  # 15 at the end of 2023-03-01: 14 today
    c.life.apply(r.resident_code)
    issued = c.life.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=None, identity_check=CHECK
    )
    assert issued.record.sign_cert_serial is None
    assert [x.kind for x in c.jpki.certificates_of(r.resident_code)] == [CertKind.AUTH]


def test_a_19_year_old_gets_a_card_to_the_10th_birthday_after_issue(counter: Counter) -> None:
    c = counter
    r = c.resident(D(2007, 6, 1))
    c.life.apply(r.resident_code)
    issued = c.life.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
    )
    assert issued.record.expires_on == D(2035, 6, 1)
    client = CardClient(MemoryTransport(issued.card))
    assert client.read_face(r.individual_number).data.card_expiry == D(2035, 6, 1)
    # The certificates: the 5th birthday after issue (公的個人認証法施行規則).
    for cert in (client.auth_certificate(), client.sign_certificate(SIGN_PASSWORD)):
        assert cert.not_valid_after_utc == end_of_day(D(2030, 6, 1))


def test_the_application_date_picks_18_or_20_and_the_age_on_it(tmp_path: Path) -> None:
    for c in _counter(tmp_path, D(2022, 3, 31)):
        before = c.resident(D(2003, 5, 1))  # 18 when J-LIS received the application
        c.life.apply(before.resident_code)
        c.later(1)  # 2022-04-01: the age for the 10-birthday card is 18 from today
        after = c.resident(D(2003, 5, 1))
        c.life.apply(after.resident_code)
        turning = c.resident(D(2004, 4, 10))  # 17 on applying, 18 by the day of issue
        c.life.apply(turning.resident_code)
        c.later(14)  # issued on 2022-04-15
        expiry = {}
        for r in (before, after, turning):
            issued = c.life.issue(
                r.resident_code,
                auth_pin=AUTH_PIN,
                sign_password=SIGN_PASSWORD,
                identity_check=CHECK,
            )
            expiry[r.resident_code] = issued.record.expires_on
        assert expiry[before.resident_code] == D(2026, 5, 1)  # under 20 then: the 5th
        assert expiry[after.resident_code] == D(2031, 5, 1)  # 18: the 10th
        assert expiry[turning.resident_code] == D(2027, 4, 10)  # 17 on the day: the 5th


def test_a_foreign_residents_card_and_certificates_end_with_the_period_of_stay(
    counter: Counter,
) -> None:
    c = counter
    stay = D(2027, 9, 30)
    r = c.resident(D(1990, 8, 8), stay=stay)
    assert r.stay_expires_on == stay
    assert c.regs.index.by_resident_code(r.resident_code).stay_expires_on == stay
    c.life.apply(r.resident_code)
    issued = c.life.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
    )
    assert issued.record.expires_on == stay  # not the 10th birthday (2035-08-08)
    client = CardClient(MemoryTransport(issued.card))
    assert client.read_face(r.individual_number).data.card_expiry == stay
    for cert in (client.auth_certificate(), client.sign_certificate(SIGN_PASSWORD)):
        assert cert.not_valid_after_utc == end_of_day(stay)
    # A Japanese national's card beside it: the 10th birthday.
    j = c.resident(D(1990, 8, 8))
    assert j.stay_expires_on is None
    c.life.apply(j.resident_code)
    national = c.life.issue(
        j.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
    )
    assert national.record.expires_on == D(2035, 8, 8)


def test_no_card_once_the_period_of_stay_has_ended(counter: Counter) -> None:
    c = counter
    r = c.resident(D(1990, 8, 8), stay=D(2026, 4, 20))
    c.life.apply(r.resident_code)
    c.later(20)  # 2026-04-21: the stay ended the day before
    with pytest.raises(PeriodOfStayEnded) as err:
        c.life.issue(
            r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
        )
    assert err.value.code == "CARD_PERIOD_OF_STAY_ENDED"
    assert c.jpki.certificates_of(r.resident_code) == []
    assert c.life.cards(r.resident_code) == []
