"""E-applications as one object: catalogue, drafts, card requests, applications and the back
office's side of them, on the store kind ``portal_eapply`` (``Portal.eapply``, built by
``Builder.portal_eapply()``)."""

from __future__ import annotations

from types import TracebackType

from openmyna.clock import Clock
from openmyna.portal.eapply.applications import Applications, BackOffice
from openmyna.portal.eapply.cards import CardRequests, Holders, SignatureVerifier
from openmyna.portal.eapply.catalogue import Catalogue
from openmyna.portal.eapply.drafts import Drafts
from openmyna.store import Store


class EApply:
    """ぴったりサービス (P5): search, forms, pre-fill, signing, delivery, status."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        catalogue: Catalogue,
        *,
        verifier: SignatureVerifier,
        holders: Holders,
    ) -> None:
        self.store = store
        self.clock = clock
        self.catalogue = catalogue
        self.drafts = Drafts(store, clock, catalogue)
        self.applications = Applications(store, clock)
        #: The receiving municipalities' side (the back-office pages use it).
        self.office = BackOffice(self.applications)
        self.cards = CardRequests(
            store, clock, self.drafts, self.applications, verifier=verifier, holders=holders
        )

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    def __enter__(self) -> EApply:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
