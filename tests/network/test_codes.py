"""Agency-specific codes (機関別符号): random, per agency, sealed at rest, translated by the hub."""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import InvalidInput
from openmyna.network.codes import AgencyCodes
from openmyna.network.errors import HubKeyError, PersonNotFound, UnknownAgency, UnknownCode
from openmyna.registry import NewPerson, Registries, Sex

MAEBASHI = "102016"
AGENCIES = ("lg-102016", "lg-281000", "nenkin", "jasso", "kyokai-kenpo", "hellowork")


def _person(given: str, kana: str) -> NewPerson:
    return NewPerson(
        family_name="山田",
        given_name=given,
        family_name_kana="ヤマダ",
        given_name_kana=kana,
        date_of_birth=dt.date(1980, 5, 17),
        sex=Sex.MALE,
    )


@pytest.fixture
def regs(settings: Settings, clock: FixedClock) -> Iterator[Registries]:
    """A registry (前橋市) on the bus, with the national index kept current."""
    with Builder(settings, clock) as parts:
        r = parts.registries()
        r.add_municipality(MAEBASHI)
        yield r


@pytest.fixture
def people(regs: Registries, clock: FixedClock) -> list[tuple[str, str]]:
    """Three residents: (individual number, resident-record code)."""
    m = regs.municipality(MAEBASHI)
    out = []
    for i, (given, kana) in enumerate(
        [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ")]
    ):
        r = m.move_in_from_abroad(
            _person(given, kana), on=dt.date(2026, 3, 1), address=f"前橋市大手町{i + 1}番"
        )
        out.append((r.individual_number, r.resident_code))
    regs.sync()
    return out


@pytest.fixture
def codes(settings: Settings, clock: FixedClock, regs: Registries) -> Iterator[AgencyCodes]:
    """The hub's codes, looking people up in the registries' national index."""
    c = AgencyCodes.open(settings, clock, regs.index)
    yield c
    c.close()


def test_codes_are_random_per_agency_and_per_person_and_stable(
    codes: AgencyCodes, people: list[tuple[str, str]]
) -> None:
    issued = {(n, a): codes.issue(a, n) for n, _ in people for a in AGENCIES}
    assert len(set(issued.values())) == len(people) * len(AGENCIES)
    for (number, agency), code in issued.items():
        assert codes.issue(agency, number) == code  # idempotent
        raw = base64.b32decode(code.upper() + "======")
        assert len(raw) * 8 >= 128
        assert number not in code
        assert len(code) == 26


def test_the_database_holds_no_number_resident_code_or_code_in_clear(
    codes: AgencyCodes, people: list[tuple[str, str]], settings: Settings
) -> None:
    issued = [codes.issue(a, n) for n, _ in people for a in AGENCIES]
    secrets_ = [n for n, _ in people] + [r for _, r in people] + issued
    if settings.database_url is None:
        blob = b"".join(
            Path(codes.store.location + suffix).read_bytes()
            for suffix in ("", "-wal")
            if Path(codes.store.location + suffix).exists()
        )
        dump = blob.decode("latin-1")
    else:
        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            rows = conn.execute(text(f'SELECT * FROM "{codes.store.location}".agency_codes')).all()
        engine.dispose()
        assert len(rows) == len(issued)
        dump = " ".join(
            (v.hex() + " " + v.decode("latin-1")) if isinstance(v, bytes) else str(v)
            for row in rows
            for v in row
        )
    assert "lg-102016" in dump  # the dump is really the data
    for s in secrets_:
        assert s not in dump
        assert s.upper() not in dump


def test_translate_gives_the_targets_code_and_issues_it_if_needed(
    codes: AgencyCodes, people: list[tuple[str, str]]
) -> None:
    (n1, _), (n2, _), _ = people
    a = codes.issue("lg-102016", n1)
    b = codes.issue("nenkin", n1)
    assert codes.translate("lg-102016", a, "nenkin") == b
    assert codes.translate("nenkin", b, "lg-102016") == a
    assert codes.translate("lg-102016", a.upper(), "nenkin") == b  # case-insensitive input
    # the person has no JASSO code yet: translating issues it, the same one issue() gives
    j = codes.translate("nenkin", b, "jasso")
    assert codes.issue("jasso", n1) == j
    other = codes.issue("lg-102016", n2)
    assert codes.translate("lg-102016", other, "nenkin") != b
    assert codes.codes_of_person(b, "nenkin") == {"jasso": j, "lg-102016": a, "nenkin": b}


def test_person_keys_are_stable_and_per_person(
    codes: AgencyCodes, people: list[tuple[str, str]]
) -> None:
    (n1, r1), (n2, _), _ = people
    a = codes.issue("lg-102016", n1)
    b = codes.issue("nenkin", n1)
    key = codes.person_key("lg-102016", a)
    assert codes.person_key("nenkin", b) == key
    assert codes.person_key_of_number(n1) == key
    assert codes.person_key("nenkin", codes.issue("nenkin", n2)) != key
    assert n1 not in key
    assert r1 not in key
    assert len(key) == 64


def test_refusals_have_stable_codes(codes: AgencyCodes, people: list[tuple[str, str]]) -> None:
    (n1, _), *_ = people
    a = codes.issue("lg-102016", n1)
    with pytest.raises(UnknownAgency) as e1:
        codes.issue("no-such-agency", n1)
    assert e1.value.code == "UNKNOWN_AGENCY"
    with pytest.raises(UnknownAgency):
        codes.translate("lg-102016", a, "nowhere")
    with pytest.raises(UnknownAgency):
        codes.translate("nowhere", a, "nenkin")
    with pytest.raises(UnknownCode) as e2:
        codes.translate("nenkin", a, "jasso")  # a real code, but of another agency
    assert e2.value.code == "UNKNOWN_CODE"
    for bad in ("", "x" * 26, "a" * 26, "0" * 26):
        with pytest.raises(UnknownCode):
            codes.translate("lg-102016", bad, "nenkin")
    with pytest.raises(UnknownCode):
        codes.codes_of_person("a" * 26, "nenkin")
    unknown = "123456789018"  # well-formed (check digit 8), but nobody has it
    with pytest.raises(PersonNotFound) as e3:
        codes.issue("nenkin", unknown)
    assert e3.value.code == "PERSON_NOT_FOUND"
    assert unknown not in e3.value.diagnostics()
    with pytest.raises(InvalidInput):
        codes.issue("nenkin", "12345")


def test_concurrent_issue_of_one_code_gives_one_code(
    settings: Settings, clock: FixedClock, regs: Registries, people: list[tuple[str, str]]
) -> None:
    number = people[0][0]
    hubs = [AgencyCodes.open(settings, clock, regs.index) for _ in range(2)]
    results: list[str] = []
    barrier = threading.Barrier(2)

    def work(hub: AgencyCodes) -> None:
        barrier.wait()
        results.append(hub.issue("jasso", number))

    threads = [threading.Thread(target=work, args=(h,)) for h in hubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for h in hubs:
        h.close()
    assert len(results) == 2
    assert results[0] == results[1]


def test_the_key_file_is_owner_only_and_checked(
    codes: AgencyCodes, settings: Settings, clock: FixedClock, regs: Registries
) -> None:
    path = settings.data_dir / "keys" / "hub-codes.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(HubKeyError) as e:
        AgencyCodes.open(settings, clock, regs.index)
    assert e.value.code == "HUB_KEY_ERROR"


def test_another_hub_key_cannot_open_the_codes(
    codes: AgencyCodes,
    people: list[tuple[str, str]],
    settings: Settings,
    clock: FixedClock,
    regs: Registries,
) -> None:
    a = codes.issue("lg-102016", people[0][0])
    (settings.data_dir / "keys" / "hub-codes.key").unlink()
    stranger = AgencyCodes.open(settings, clock, regs.index)  # makes a fresh key
    try:
        with pytest.raises(UnknownCode):
            stranger.translate("lg-102016", a, "nenkin")
    finally:
        stranger.close()
