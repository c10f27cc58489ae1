"""The running platform: the bus, the registries and the index, opened once.

``openmyna serve`` and ``openmyna demo`` build one ``Platform`` and hand it to the web app;
later domains (portal, services) join it here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from openmyna.bus import Bus, open_bus
from openmyna.card.lifecycle import CardLifecycle
from openmyna.clock import Clock, SystemClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.network.local import LocalNetwork
from openmyna.pki import CertKind, Jpki
from openmyna.registry import Registries

log = logging.getLogger(__name__)


class Platform:
    """Every long-lived component of one openmyna installation."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        settings.ensure_data_dir()
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.bus: Bus = open_bus(settings)
        self._closers: list[Any] = [self.bus]
        try:
            self.registries = Registries(settings, self.bus, self.clock)
            self._closers.insert(0, self.registries)
            self.jpki = Jpki.open(settings, self.clock)
            self._closers.insert(0, self.jpki)
            self.jpki.subscribe(self.bus)
            self.cards = CardLifecycle.open(
                settings, self.bus, self.clock, identities=self.registries.index, jpki=self.jpki
            )
            self._closers.insert(0, self.cards)
            # The hub and the agency nodes in this process (opened on first exchange).
            self.network = LocalNetwork.open(settings, self.clock, self.registries.index)
            self._closers.insert(0, self.network)
        except BaseException:
            self._close_all()
            raise
        self._deadlines_checked: dt.date | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def health(self) -> dict[str, Any]:
        """Which backends are in use and how many municipalities are served."""
        return {
            "status": "ok",
            "database": "postgresql" if self.settings.database_url else "sqlite",
            "bus": "nats" if self.settings.bus_url else "local",
            "municipalities": len(self.registries.list_municipalities()),
            "pki": {
                kind.value: self.jpki.ca_certificate(kind).serial_number > 0 for kind in CertKind
            },
            "network": self.network.health(),
        }

    def endpoints(self) -> list[tuple[str, str]]:
        """The paths this platform serves, with what each is for."""
        return [
            ("/healthz", "health and backends"),
            ("/api/registry/municipalities", "municipalities and their resident counts"),
            ("/ocsp", "JPKI OCSP responder (RFC 6960, POST and GET)"),
            ("/crl/auth", "CRL of the user-authentication CA (DER)"),
            ("/crl/sign", "CRL of the signature CA (DER)"),
            ("/api/network/agencies", "agencies on the Information Provision Network"),
            ("/api/network/allow-list", "the allow-list (別表第二): permitted exchanges"),
            ("/docs", "the HTTP API (OpenAPI)"),
        ]

    def sync_once(self, timeout: float = 0.0) -> int:
        """Relay outboxes, deliver pending events, refresh OCSP and CRLs; events relayed."""
        relayed = self.registries.sync(timeout)
        relayed += self.cards.relay()
        self.bus.pump()
        today = self.clock.today()
        if self._deadlines_checked != today:  # card validity and move deadlines, daily
            self.cards.check_deadlines()
            self._deadlines_checked = today
        self.jpki.maintain()
        return relayed

    def start_background(self, interval: float = 1.0) -> None:
        """Keep relaying and delivering events in a background thread until stopped."""
        if self._worker is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.sync_once(timeout=min(interval, 0.5))
                except OpenMynaError as exc:  # retried on the next round; nothing is lost
                    log.warning("background event delivery failed: %s", exc.code)
                self._stop.wait(interval)

        self._worker = threading.Thread(target=loop, name="openmyna-events", daemon=True)
        self._worker.start()

    def stop_background(self) -> None:
        """Stop the background delivery thread."""
        if self._worker is None:
            return
        self._stop.set()
        self._worker.join(timeout=10)
        self._worker = None

    def close(self) -> None:
        """Stop background work and close every database and connection."""
        self.stop_background()
        self._close_all()

    def _close_all(self) -> None:
        for part in self._closers:
            part.close()
        self._closers.clear()
