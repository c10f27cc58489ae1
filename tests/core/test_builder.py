"""The composition root: one builder, one settings object, one clock, parts built once."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openmyna.builder import Builder
from openmyna.clock import JST, FixedClock, OffsetClock, SystemClock, clock_from_setting
from openmyna.config import PkiSettings, Settings, load_settings
from openmyna.errors import InvalidInput

REPO = Path(__file__).resolve().parents[2]
OPENMYNA = shutil.which("openmyna", path=os.path.dirname(sys.executable)) or "openmyna"


def test_each_part_is_built_once_and_closed_newest_first(tmp_path: Path) -> None:
    parts = Builder(Settings(data_dir=tmp_path), SystemClock())
    regs = parts.registries()
    assert parts.registries() is regs
    assert regs.index is parts.identity_index()  # one index, shared
    assert parts.built("bus")
    assert parts.built("identity_index")
    assert not parts.built("jpki")
    assert not parts.built("numbering")
    parts.close()
    with pytest.raises(RuntimeError):
        parts.registries()


def test_the_card_lifecycle_and_jpki_share_the_clock_and_bus(tmp_path: Path) -> None:
    clock = FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    with Builder(Settings(data_dir=tmp_path), clock) as parts:
        cards = parts.cards()
        assert cards.clock is clock
        assert cards.bus is parts.bus()
        jpki = parts.jpki(follow_events=True)
        assert jpki.clock is clock
        assert parts.jpki() is jpki


def test_a_provided_stand_in_is_used_and_not_closed(tmp_path: Path) -> None:
    class Stand:
        closed = False

        def close(self) -> None:
            self.closed = True

    stand = Stand()
    with Builder(Settings(data_dir=tmp_path), SystemClock()) as parts:
        parts.provide("jpki", stand)
        got: object = parts.jpki(follow_events=True)  # typed Jpki; here the stand-in
        assert got is stand  # no subscription attempted
    assert not stand.closed
    with Builder(Settings(data_dir=tmp_path), SystemClock()) as parts:
        parts.bus()
        with pytest.raises(RuntimeError):
            parts.provide("bus", stand)


def test_pki_settings_are_read_with_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMYNA_PKI_BASE_URL", "https://jpki.example.test")
    monkeypatch.setenv("OPENMYNA_PKI_OCSP_VALIDITY", "PT2H")
    monkeypatch.setenv("OPENMYNA_PKI_PRESIGN_ON_ISSUE", "false")
    monkeypatch.setenv("OPENMYNA_BUS_STREAM", "OTHER")
    settings = load_settings()
    assert settings.pki == PkiSettings(
        base_url="https://jpki.example.test",
        ocsp_validity=dt.timedelta(hours=2),
        presign_on_issue=False,
    )
    assert settings.bus_stream == "OTHER"


def test_the_sandbox_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(clock_from_setting(None), SystemClock)
    assert isinstance(clock_from_setting("  "), SystemClock)
    fixed = clock_from_setting("2027-04-01T09:00:00+09:00")
    assert fixed.now() == dt.datetime(2027, 4, 1, 0, 0, tzinfo=dt.UTC)
    assert fixed.today() == dt.date(2027, 4, 1)
    assert clock_from_setting("2027-04-01").now() == dt.datetime(2027, 4, 1, tzinfo=JST)
    assert clock_from_setting("2027-04-01T09:00").now() == dt.datetime(2027, 4, 1, 9, tzinfo=JST)
    ahead = clock_from_setting("+30d")
    assert isinstance(ahead, OffsetClock)
    assert ahead.offset == dt.timedelta(days=30)
    behind = clock_from_setting("-1d12h")
    assert isinstance(behind, OffsetClock)
    assert behind.offset == -dt.timedelta(days=1, hours=12)
    now = SystemClock().now()
    assert abs(ahead.now() - now - dt.timedelta(days=30)) < dt.timedelta(seconds=5)
    for bad in ("tomorrow", "+30", "30d", "+3y", "2027-13-01"):
        with pytest.raises(InvalidInput):
            clock_from_setting(bad)
    monkeypatch.setenv("OPENMYNA_CLOCK", "2030-01-01T00:00:00+00:00")
    with Builder.from_environment() as parts:
        assert parts.clock.now() == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def test_the_sandbox_clock_reaches_every_command(tmp_path: Path) -> None:
    """A CA created under ``OPENMYNA_CLOCK`` starts at the sandbox's time, not the system's."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OPENMYNA_DATA_DIR": str(tmp_path / "data"),
        "OPENMYNA_CLOCK": "2031-05-06T00:00:00+00:00",
    }
    done = subprocess.run(
        [OPENMYNA, "pki", "ca", "--auth"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "valid:      2031-05-0" in done.stdout


def test_configuration_is_read_in_one_place() -> None:
    """Only config.load_settings reads the environment; no module builds Settings() itself."""
    found = subprocess.run(
        ["grep", "-rn", "--include=*.py", "Settings()", str(REPO / "src")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    assert [line.split(":")[0] for line in found] == [str(REPO / "src/openmyna/config.py")]
    readers = subprocess.run(
        ["grep", "-rln", "--include=*.py", "-e", "os.environ", "-e", "getenv", str(REPO / "src")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert readers == []


def test_the_background_loop_outlives_any_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure that is no domain error (a driver's, a bug's) is logged by type and retried."""
    import time

    from openmyna.platform import Platform

    platform = Platform(Builder(Settings(data_dir=tmp_path), SystemClock()))
    calls: list[int] = []
    real = platform.registries.sync

    def flaky(timeout: float = 0.0) -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("山田太郎: a driver's message with personal data")
        return real(timeout)

    monkeypatch.setattr(platform.registries, "sync", flaky)
    try:
        platform.start_background(interval=0.01)
        deadline = time.monotonic() + 20
        while len(calls) < 4:
            assert time.monotonic() < deadline, "the loop stopped after the failure"
            time.sleep(0.01)
    finally:
        platform.close()
    failures = [r for r in caplog.records if "background event delivery failed" in r.getMessage()]
    assert len(failures) == 2
    assert all("RuntimeError" in r.getMessage() for r in failures)
    assert all("山田" not in r.getMessage() for r in caplog.records)
