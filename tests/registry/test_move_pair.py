"""The move between municipalities: out at A, in at B, crash-safe and idempotent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from registry_helpers import KOBE, MAEBASHI, TAKAMATSU, person, snapshot

from openmyna.clock import FixedClock
from openmyna.errors import OpenMynaError
from openmyna.registry import MunicipalRegistry, Registries, Status
from openmyna.registry.moves import MovePair


class CrashError(Exception):
    """The process died here."""


def _moved_out(regs: Registries, clock: FixedClock) -> tuple[MunicipalRegistry, str]:
    a = regs.municipality(MAEBASHI)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    a.move_out(
        r.resident_code, planned_on=clock.today(), destination="神戸市", destination_lg_code=KOBE
    )
    return a, r.resident_code


def test_crash_between_the_two_writes_completes_on_retry(
    regs: Registries, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, code = _moved_out(regs, clock)
    b = regs.municipality(KOBE)
    real = MovePair._write_move_in

    def crash(self: MovePair, *args: Any, **kwargs: Any) -> Any:
        raise CrashError

    monkeypatch.setattr(MovePair, "_write_move_in", crash)
    with pytest.raises(CrashError):
        b.move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
    # A noted the move-in (first write); B has nothing yet (second write never happened).
    assert a.get(code).moved_in_at_lg_code == KOBE
    assert b.count() == 0

    monkeypatch.setattr(MovePair, "_write_move_in", real)
    arrived = b.move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
    assert arrived.resident_code == code
    assert b.count() == 1
    notes = [e for e in a.audit_entries(code) if e.action == "registry.move_in_noted"]
    assert len(notes) == 1  # completed once, not twice


def test_retry_after_success_returns_the_same_record(regs: Registries, clock: FixedClock) -> None:
    a, code = _moved_out(regs, clock)
    b = regs.municipality(KOBE)
    first = b.move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
    before = (snapshot(a.store), snapshot(b.store))
    again = b.move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
    assert again == first
    assert (snapshot(a.store), snapshot(b.store)) == before


def test_move_in_at_another_municipality_after_a_claim_is_refused(
    regs: Registries, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, code = _moved_out(regs, clock)
    b = regs.municipality(KOBE)
    regs.add_municipality(TAKAMATSU)
    c = regs.municipality(TAKAMATSU)
    monkeypatch.setattr(
        MovePair, "_write_move_in", lambda *a, **k: (_ for _ in ()).throw(CrashError())
    )
    with pytest.raises(CrashError):
        b.move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
    monkeypatch.undo()
    with pytest.raises(OpenMynaError) as info:
        c.move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address="高松市1番")
    assert info.value.code == "NO_MOVE_OUT"
    assert c.count() == 0
    assert a.get(code).status is Status.REMOVED


def test_move_out_certificate(regs: Registries, clock: FixedClock) -> None:
    a, code = _moved_out(regs, clock)
    cert = a.move_out_certificate(code)
    assert cert.from_lg_code == MAEBASHI
    assert cert.destination_lg_code == KOBE
    assert cert.planned_on == clock.today()
    assert cert.address == "前橋市1番"
    assert cert.moved_in_at_lg_code is None
