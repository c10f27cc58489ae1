"""The portal as one object: its store, sessions, accounts and what it asks of other domains.

``Builder.portal()`` makes it; the web app (``portal.web``) and the portal's later parts
(login, records, notices, applications, back office) take what they need from it.
"""

from __future__ import annotations

from types import TracebackType

from openmyna.clock import Clock
from openmyna.config import PortalSettings
from openmyna.portal.accounts import Accounts, CertificateIssuer, CodeIssuer, Identities
from openmyna.portal.sessions import Sessions
from openmyna.store import Store


class Portal:
    """The citizen portal's state (マイナポータル)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: PortalSettings,
        *,
        issuer: CertificateIssuer,
        identities: Identities,
        codes: CodeIssuer,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.sessions = Sessions(store, clock, settings)
        self.accounts = Accounts(store, clock, issuer=issuer, identities=identities, codes=codes)

    def close(self) -> None:
        """Release the portal's database connections."""
        self.store.close()

    def __enter__(self) -> Portal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
