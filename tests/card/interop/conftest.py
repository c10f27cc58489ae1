"""Fixtures for the PC/SC interop tests: pcscd with vsmartcard's vpcd reader, and OpenSC.

Outside CI, a test whose tool is missing (pcscd, the vpcd driver, pyscard, OpenSC) is skipped
with the reason; under ``CI=true`` it fails instead, because scripts/setup-test-env.sh
installs them all and starts pcscd.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import Jpki

IN_CI = os.environ.get("CI", "").lower() == "true"
PCSCD = Path("/usr/sbin/pcscd")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
OPENSC_PKCS11_CANDIDATES = (
    Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"),
    Path("/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"),
    Path("/usr/lib/opensc-pkcs11.so"),
    Path("/usr/lib64/opensc-pkcs11.so"),
)


def need(condition: bool, reason: str) -> None:
    """Skip (outside CI) or fail (under CI) unless ``condition`` holds."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true; scripts/setup-test-env.sh installs it)")
    pytest.skip(reason)


def _vpcd_readers() -> list[str]:
    from openmyna.card.transport.pcsc import VPCD_READER_PREFIX, PcscUnavailable, list_readers

    try:
        return [r for r in list_readers() if r.startswith(VPCD_READER_PREFIX)]
    except PcscUnavailable:
        return []


@pytest.fixture(scope="session")
def pcscd() -> list[str]:
    """pcscd runs with the vpcd reader; the vpcd reader names, slot 0 first."""
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        need(False, "pyscard is not installed (the [pcsc] extra)")
    need(PCSCD.exists(), "pcscd is not installed (Debian package pcscd)")
    need(
        VPCD_DRIVER.exists() and VPCD_CONF.exists(),
        "the vpcd reader driver is not installed (Debian package vsmartcard-vpcd)",
    )
    readers = _vpcd_readers()
    if not readers and os.geteuid() == 0 and not Path("/run/pcscd/pcscd.comm").exists():
        # No systemd here to socket-activate it: start the daemon (it forks and stays).
        subprocess.run([str(PCSCD)], check=False, timeout=30)
        deadline = time.monotonic() + 10
        while not readers and time.monotonic() < deadline:
            time.sleep(0.2)
            readers = _vpcd_readers()
    need(bool(readers), "pcscd is not running with the vpcd reader (run scripts/setup-test-env.sh)")
    return sorted(readers)


@pytest.fixture(scope="session")
def vpcd_slot(pcscd: list[str]) -> tuple[str, int]:
    """A vpcd reader with no card in it and the TCP port its card side connects to."""
    from openmyna.card.transport.pcsc import VPCD_FIRST_PORT, reader_has_card

    for slot, name in enumerate(pcscd):
        if not reader_has_card(name):
            return name, VPCD_FIRST_PORT + slot
    need(False, "every vpcd reader already holds a card (is `openmyna card insert` running?)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def opensc_tools(pcscd: list[str]) -> Path:
    """OpenSC's command-line tools are installed; the path of its PKCS#11 module."""
    need(
        shutil.which("pkcs15-tool") is not None and shutil.which("pkcs11-tool") is not None,
        "OpenSC's tools are not installed (Debian package opensc)",
    )
    module = next((p for p in OPENSC_PKCS11_CANDIDATES if p.exists()), None)
    need(module is not None, "OpenSC's PKCS#11 module is not installed (opensc-pkcs11)")
    need(shutil.which("openssl") is not None, "the openssl command is not installed")
    assert module is not None
    return module


@pytest.fixture(scope="session")
def interop_jpki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jpki]:
    """The project's JPKI issuer at the real time (``openssl verify`` uses the real clock)."""
    data_dir = tmp_path_factory.mktemp("interop-jpki")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Jpki.open(Settings(data_dir=data_dir), FixedClock(now)) as jpki:
        yield jpki
