"""``LatestItems``: the latest-4-items service as one object (the builder makes it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openmyna.bus import Bus
from openmyna.clock import Clock
from openmyna.latest_items.businesses import Businesses
from openmyna.latest_items.consents import Consents
from openmyna.latest_items.provision import Provision
from openmyna.latest_items.records import CertificateLinks, Issuer
from openmyna.latest_items.signing import ConsentSigning
from openmyna.portal.eapply.cards import Holders, SignatureVerifier
from openmyna.portal.notices.delivery import WebhookSender
from openmyna.store import Store


class LatestItems:
    """最新の4情報提供サービス: businesses, consents, and the provisions the bus drives."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        key_file: Path,
        issuer: Issuer,
        links: Callable[[], CertificateLinks],
        verifier: SignatureVerifier,
        holders: Holders,
        sender: WebhookSender | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.businesses = Businesses(store, clock, key_file)
        self.consents = Consents(store, clock, self.businesses, issuer=issuer, links=links)
        self.signing = ConsentSigning(self.consents, verifier=verifier, holders=holders)
        self.provision = Provision(store, clock, self.businesses, sender=sender)

    def subscribe(self, bus: Bus) -> None:
        """Follow the registries' changes on the bus (durable consumer ``latest-items``)."""
        self.provision.subscribe(bus)

    def deliver_due(self) -> int:
        """Send the webhooks that are due (the platform's background round)."""
        return self.provision.deliver_due()

    def close(self) -> None:
        """Release the database connections and the webhook client."""
        self.provision.close()
        self.store.close()
