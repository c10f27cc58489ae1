"""The portal as one object: its store, sessions, accounts, notices and what it asks of others.

``Builder.portal()`` makes it; the web app (``portal.web``) and the portal's later parts
(login, records, notices, applications, back office) take what they need from it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from openmyna.clock import Clock
from openmyna.config import PortalSettings
from openmyna.errors import Unavailable
from openmyna.pki import RevocationChecker, Verifier
from openmyna.portal.accounts import Accounts, CertificateIssuer, CodeIssuer, Identities
from openmyna.portal.login.service import Logins, RevocationLog
from openmyna.portal.login.wallet import DemoWallet
from openmyna.portal.nav import MenuBadge
from openmyna.portal.proxy.service import Proxies
from openmyna.portal.sessions import Sessions
from openmyna.store import Store

if TYPE_CHECKING:
    from openmyna.portal.eapply.service import EApply
    from openmyna.portal.moving.service import MovingOneStop
    from openmyna.portal.notices import Notices
    from openmyna.portal.payments.service import Payments
    from openmyna.portal.statistics import PublicStatistics


class PartMissing(Unavailable):
    """A part of the portal this installation was built without."""

    code = "PORTAL_PART_MISSING"


class Portal:
    """The citizen portal's state (マイナポータル): sessions, accounts, notices (お知らせ)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: PortalSettings,
        *,
        issuer: CertificateIssuer,
        identities: Identities,
        codes: CodeIssuer,
        verifier: Verifier,
        checker: RevocationChecker | None = None,
        revocations: RevocationLog | None = None,
        wallet: DemoWallet | None = None,
        payments: Payments | None = None,
        notices: Notices | None = None,
        statistics: Callable[[], PublicStatistics] | None = None,
        eapply: EApply | None = None,
        moving: Callable[[], MovingOneStop] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.sessions = Sessions(store, clock, settings)
        self.accounts = Accounts(store, clock, issuer=issuer, identities=identities, codes=codes)
        #: The card login (P1): login requests, the card's answer, revocations followed.
        self.logins = Logins(
            store,
            clock,
            settings,
            accounts=self.accounts,
            sessions=self.sessions,
            verifier=verifier,
            checker=checker,
            revocations=revocations,
        )
        #: 代理人 (P8): grants, acting for a principal, the proxy log (the pages check each
        #: request of an acting session with ``proxies.admit``).
        self.proxies = Proxies(store, clock, self.sessions)
        #: The demo wallet (``/wallet``), only while the demo runs.
        self.wallet = wallet
        #: 公金決済 (P6), on its own store.
        self._payments = payments
        #: お知らせ (P4), on its own store (the builder closes it).
        self._notices = notices
        #: 統計: built on first use (``Builder.portal_statistics``).
        self._statistics = statistics
        #: 申請 (P5), on its own store (the builder closes it).
        self._eapply = eapply
        #: 引越しワンストップ: built with the platform (it follows the bus), on its own store.
        self._moving = moving

    @property
    def payments(self) -> Payments:
        """公金決済 (P6): ``PORTAL_PART_MISSING`` if this portal was built without it."""
        if self._payments is None:
            raise PartMissing("this portal has no payments")
        return self._payments

    @property
    def notices(self) -> Notices:
        """お知らせ (P4): ``PORTAL_PART_MISSING`` if this portal was built without it."""
        if self._notices is None:
            raise PartMissing("this portal has no notices")
        return self._notices

    @property
    def eapply(self) -> EApply:
        """申請 (P5): ``PORTAL_PART_MISSING`` if this portal was built without it."""
        if self._eapply is None:
            raise PartMissing("this portal has no e-applications")
        return self._eapply

    @property
    def moving(self) -> MovingOneStop:
        """引越しワンストップ: ``PORTAL_PART_MISSING`` if this portal was built without it."""
        if self._moving is None:
            raise PartMissing("this portal has no moving one-stop")
        return self._moving()

    def menu_badges(self, account_id: str) -> dict[str, MenuBadge]:
        """The counts shown beside the menu's entries for a person, by path."""
        badges: dict[str, MenuBadge] = {}
        unread = self._notices.menu_badge(account_id) if self._notices is not None else None
        if unread is not None:
            badges["/notices"] = unread
        return badges

    @property
    def statistics(self) -> PublicStatistics:
        """The public statistics (統計): ``PORTAL_PART_MISSING`` if built without them."""
        if self._statistics is None:
            raise PartMissing("this portal has no statistics")
        return self._statistics()

    def close(self) -> None:
        """Release the portal's database connections."""
        if self._payments is not None:
            self._payments.store.close()
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
