"""The running platform: what ``openmyna serve`` and ``openmyna demo`` hold open.

``Platform`` asks the builder (``openmyna.builder``) for the parts the web app serves — the
bus, the registries with the national index, the JPKI issuer following events, the card
lifecycle and the network in this process — and keeps their events moving in a background
thread. Later domains (portal, services) join it here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from openmyna.builder import Builder
from openmyna.errors import OpenMynaError
from openmyna.pki import CertKind

log = logging.getLogger(__name__)


class Platform:
    """Every long-lived component of one openmyna installation, as the web app uses them."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.settings = builder.settings
        self.clock = builder.clock
        self.settings.ensure_data_dir()
        try:
            self.bus = builder.bus()
            self.registries = builder.registries()
            self.jpki = builder.jpki(follow_events=True)
            self.cards = builder.cards()
            # The hub and the agency nodes in this process (opened on first exchange).
            self.network = builder.network()
            # The citizen portal (its accounts and sessions).
            self.portal = builder.portal()
            # The portal's back office for municipality staff.
            self.backoffice = builder.backoffice()
            # Its e-applications: the inbox, the decision and its notice.
            self.application_desk = builder.application_desk()
            # The moving one-stop, following the registries' moves on the bus.
            self.moving = builder.portal_moving()
            # The OpenID Connect provider for businesses (デジタル認証アプリ's role).
            self.oidc = builder.oidc()
            # The latest-4-items service, following the registries' changes on the bus.
            self.latest_items = builder.latest_items()
        except BaseException:
            builder.close()
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
        self.portal.notices.deliver_due()  # forward notices to private delivery services
        self.latest_items.deliver_due()  # the latest 4 items, to the businesses' webhooks
        # The portal follows the issuer's revocation log: a revoked or suspended
        # certificate's sessions end (and its cached status is dropped) within a round.
        self.portal.logins.maintain()
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
                except Exception as exc:  # noqa: BLE001 - the loop outlives any one failure
                    # Committed events stay in the outboxes and the bus: the next round
                    # retries them, so nothing is lost. The code, never the message (which
                    # may come from a driver), is logged.
                    code = exc.code if isinstance(exc, OpenMynaError) else type(exc).__name__
                    log.warning("background event delivery failed (%s); retrying", code)
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
        self.builder.close()
