"""The composition root: every long-lived part of one installation, built from one place.

``Builder`` takes one ``Settings`` and one ``Clock`` and builds each part the first time it
is asked for, once, wiring it to the parts it needs; ``close`` closes what was built, newest
first. Every entry point uses it — ``openmyna serve``/``demo`` (through ``Platform``), every
CLI group, the network hub and node processes, the benchmarks and the tests — and asks only
for the parts it needs, so ``openmyna pki status`` opens the JPKI issuer's database and
nothing else, and ``openmyna network hub`` imports neither the card nor the web app.

Domain modules are imported inside the methods for that reason: importing this module
imports no domain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from openmyna.clock import Clock, clock_from_setting
from openmyna.config import Settings, load_settings

if TYPE_CHECKING:
    from openmyna.bus import Bus
    from openmyna.card.lifecycle import CardLifecycle
    from openmyna.card.signer import CardDataSigner
    from openmyna.ekyc import EkycPlatform
    from openmyna.identity.oidc import Oidc
    from openmyna.latest_items import LatestItems
    from openmyna.network.codes import AgencyCodes
    from openmyna.network.hub import Hub
    from openmyna.network.local import LocalNetwork
    from openmyna.network.netca import NetworkCA
    from openmyna.network.node import AgencyNode
    from openmyna.network.records import ExchangeRecords
    from openmyna.numbers import NumberingAuthority
    from openmyna.pki import Jpki, Verifier
    from openmyna.portal.backoffice.applications import ApplicationDesk
    from openmyna.portal.backoffice.service import BackOffice
    from openmyna.portal.eapply.service import EApply
    from openmyna.portal.moving.service import MovingOneStop
    from openmyna.portal.notices import Notices
    from openmyna.portal.notices.service import CodeTranslator
    from openmyna.portal.service import Portal
    from openmyna.portal.statistics import PublicStatistics
    from openmyna.registry import IdentityIndex, Registries

T = TypeVar("T")


class Builder:
    """Builds, once each and on first use, the parts of the installation ``settings`` names."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._parts: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []
        self._lock = threading.RLock()  # the web app's threads and its event loop share this
        self._provided: set[str] = set()
        self._jpki_follows_events = False
        self._closed = False

    @classmethod
    def from_environment(cls) -> Builder:
        """The builder of the installation the ``OPENMYNA_*`` environment describes."""
        settings = load_settings()
        return cls(settings, clock_from_setting(settings.clock))

    def _once(self, name: str, build: Callable[[], T], close: Callable[[T], None]) -> T:
        with self._lock:
            if self._closed:
                raise RuntimeError("this builder is closed")
            if name in self._parts:
                found: T = self._parts[name]
                return found
            part = build()
            self._parts[name] = part
            self._closers.append(lambda: close(part))
            return part

    def provide(self, name: str, part: object) -> None:
        """Use ``part`` as the part ``name`` (a stand-in in tests); its owner closes it."""
        with self._lock:
            if name in self._parts:
                raise RuntimeError(f"the part {name!r} is built already")
            self._parts[name] = part
            self._provided.add(name)

    def built(self, name: str) -> bool:
        """Whether the part ``name`` (e.g. ``"jpki"``) has been built."""
        with self._lock:
            return name in self._parts

    # --- bottom: the bus and the national bodies -------------------------------------------

    def bus(self) -> Bus:
        """The event bus: the embedded log, or NATS JetStream with ``bus_url``."""
        from openmyna.bus import open_bus

        def build() -> Bus:
            self.settings.ensure_data_dir()
            return open_bus(self.settings)

        return self._once("bus", build, lambda b: b.close())

    def numbering(self) -> NumberingAuthority:
        """The numbering authority (J-LIS role): keys and the serial counter."""
        from openmyna.numbers import NumberingAuthority

        return self._once(
            "numbering",
            lambda: NumberingAuthority.open(self.settings, self.clock),
            lambda n: n.close(),
        )

    def identity_index(self) -> IdentityIndex:
        """The national identity index (本人確認情報); derives numbers through ``numbering``.

        Built without a bus subscription: a reader (the hub) only looks people up; the
        registries subscribe it to the bus when they are built.
        """
        from openmyna.registry import IdentityIndex
        from openmyna.registry.tables import INDEX_KIND, NATIONAL_BODY
        from openmyna.store import open_store

        return self._once(
            "identity_index",
            lambda: IdentityIndex(
                open_store(self.settings, INDEX_KIND, NATIONAL_BODY), self.clock, self.numbering
            ),
            lambda index: index.store.close(),
        )

    # --- domains ---------------------------------------------------------------------------

    def registries(self) -> Registries:
        """Every municipality's registry, on the bus, keeping the identity index current."""
        from openmyna.registry import Registries

        return self._once(
            "registries",
            lambda: Registries(
                self.settings,
                self.identity_index(),
                self.clock,
                numbers=self.numbering,
                bus=self.bus(),
            ),
            lambda r: r.close(),
        )

    def jpki(self, *, follow_events: bool = False) -> Jpki:
        """The JPKI issuer; with ``follow_events`` it also revokes on registry and card events."""
        from openmyna.pki import Jpki

        jpki = self._once("jpki", lambda: Jpki.open(self.settings, self.clock), lambda j: j.close())
        with self._lock:
            if follow_events and not self._jpki_follows_events and "jpki" not in self._provided:
                jpki.subscribe(self.bus())
                self._jpki_follows_events = True
        return jpki

    def card_signer(self) -> CardDataSigner:
        """The card-data signer (the key that signs the chip's text data)."""
        from openmyna.card.signer import CardDataSigner

        return self._once(
            "card_signer",
            lambda: CardDataSigner.open(self.settings, self.clock),
            lambda _s: None,  # holds no connection
        )

    def cards(self) -> CardLifecycle:
        """The card register and lifecycle; the JPKI issuer and the signer open on first use."""
        from openmyna.card.lifecycle import CardLifecycle
        from openmyna.card.tables import CARD_KIND, ISSUER_BODY
        from openmyna.store import open_store

        return self._once(
            "cards",
            lambda: CardLifecycle(
                open_store(self.settings, CARD_KIND, ISSUER_BODY),
                self.clock,
                identities=self.identity_index(),
                jpki=lambda: self.jpki(follow_events=True),
                signer=self.card_signer,
                bus=self.bus(),
            ),
            lambda c: c.close(),
        )

    def portal(self) -> Portal:
        """The citizen portal (マイナポータル): accounts, sessions, the card login and its parts.

        The login verifies cards as a relying party: a ``Verifier`` on the installation's
        JPKI CA certificates, with the status from the issuer's OCSP responder in process
        (the CRL as fallback), and it follows the issuer's revocation log. With
        ``PortalSettings.demo_wallet`` the demo wallet reads ``<data_dir>/demo-cards``.
        """
        from openmyna.pki import CertKind, RevocationChecker, Verifier
        from openmyna.portal.login.wallet import DemoWallet, cards_dir
        from openmyna.portal.payments.provider import SimulatedProvider
        from openmyna.portal.payments.service import Payments
        from openmyna.portal.payments.tables import PAYMENTS_BODY, PAYMENTS_KIND
        from openmyna.portal.service import Portal
        from openmyna.portal.tables import PORTAL_BODY, PORTAL_KIND
        from openmyna.store import open_store

        network = self.network()

        def build() -> Portal:
            payments = Payments(
                open_store(self.settings, PAYMENTS_KIND, PAYMENTS_BODY),
                self.clock,
                provider=SimulatedProvider(self.clock),
                codes=network,
            )
            jpki = self.jpki(follow_events=True)
            checker = RevocationChecker(
                self.clock, ocsp_fetch=jpki.ocsp_fetcher(), crl_fetch=jpki.crl_fetcher()
            )
            verifier = Verifier(
                {k: jpki.ca_certificate(k) for k in CertKind}, self.clock, revocation=checker
            )
            wallet = (
                DemoWallet(cards_dir(self.settings), self.settings)
                if self.settings.portal.demo_wallet
                else None
            )
            return Portal(
                open_store(self.settings, PORTAL_KIND, PORTAL_BODY),
                self.clock,
                self.settings.portal,
                issuer=jpki,
                identities=self.identity_index(),
                codes=network,
                payments=payments,
                notices=self.portal_notices(),
                statistics=self.portal_statistics,
                verifier=verifier,
                checker=checker,
                revocations=jpki,
                wallet=wallet,
                eapply=self.portal_eapply(),
                network=network,
                moving=self.portal_moving,
            )

        return self._once("portal", build, lambda p: p.close())

    def portal_notices(self) -> Notices:
        """The portal's notices (お知らせ): their own store, the hub's codes, the delivery list.

        The portal holds them (``Portal.notices``); the notice API's process (``openmyna
        portal notices-api``) builds them alone, without the rest of the portal.
        """
        from openmyna.network.agencies import AgencyDirectory
        from openmyna.portal.notices import Notices, load_delivery_services
        from openmyna.portal.notices.tables import NOTICES_BODY, NOTICES_KIND
        from openmyna.store import open_store

        def codes() -> CodeTranslator:
            # The hub of this process when the network runs here (the platform); else the
            # hub's code table itself (the notice API's own process).
            return self.network() if self.built("network") else self.agency_codes()

        def build() -> Notices:
            services = load_delivery_services(self.settings.portal.delivery_services)
            return Notices(
                open_store(self.settings, NOTICES_KIND, NOTICES_BODY),
                self.clock,
                codes=codes,
                accounts=lambda: self.portal().accounts,
                directory=AgencyDirectory.default(),
                services=services,
            )

        return self._once("portal_notices", build, lambda n: n.close())

    def portal_statistics(self) -> PublicStatistics:
        """The portal's public statistics: counts of the card register, index and records."""
        from openmyna.portal.statistics import PublicStatistics

        return self._once(
            "portal_statistics",
            lambda: PublicStatistics(
                self.cards(),
                self.identity_index(),
                self.exchange_records(),
                self.clock,
                self.settings.portal,
            ),
            lambda _s: None,  # holds no connection of its own
        )

    def portal_eapply(self) -> EApply:
        """The portal's e-applications (申請, P5): their own store, the JPKI verifier.

        The portal holds them (``Portal.eapply``); the portal's accounts are asked for only
        when a signature is checked, so either can be built first.
        """
        from openmyna.portal.eapply.catalogue import load_catalogue
        from openmyna.portal.eapply.holders import IssuerHolders
        from openmyna.portal.eapply.service import EApply
        from openmyna.portal.eapply.tables import EAPPLY_BODY, EAPPLY_KIND
        from openmyna.store import open_store

        def build() -> EApply:
            jpki = self.jpki(follow_events=True)
            # Every signature's status is asked anew (no cache): an application is not a login.
            return EApply(
                open_store(self.settings, EAPPLY_KIND, EAPPLY_BODY),
                self.clock,
                load_catalogue(),
                verifier=self.status_at_use_verifier(),
                holders=IssuerHolders(lambda: self.portal().accounts, jpki),
            )

        return self._once("portal_eapply", build, lambda e: e.close())

    def backoffice(self) -> BackOffice:
        """The portal's back office for municipality staff: the staff register and its steps."""
        from openmyna.portal.backoffice.service import BackOffice
        from openmyna.portal.backoffice.tables import BACKOFFICE_BODY, BACKOFFICE_KIND
        from openmyna.store import open_store

        portal = self.portal()
        return self._once(
            "backoffice",
            lambda: BackOffice(
                open_store(self.settings, BACKOFFICE_KIND, BACKOFFICE_BODY),
                self.clock,
                self.settings,
                registries=self.registries,
                cards=self.cards,
                accounts=portal.accounts,
            ),
            lambda b: b.close(),
        )

    def application_desk(self) -> ApplicationDesk:
        """The back office's e-applications: inbox, 受付, 決定 and its notice, over the network."""
        from openmyna.demo.local_tax import ScenarioLocalTax
        from openmyna.portal.backoffice.applications import ApplicationDesk

        portal = self.portal()
        return self._once(
            "application_desk",
            lambda: ApplicationDesk(
                self.backoffice(),
                portal.eapply,
                portal.notices,
                local_tax=ScenarioLocalTax(self.network()),
            ),
            lambda _d: None,  # holds no connection of its own
        )

    def portal_moving(self) -> MovingOneStop:
        """The moving one-stop (引越しワンストップ): its own store, following the registries' moves.

        Built with the platform (``Platform``) so that it follows the bus from the start; the
        portal holds it (``Portal.moving``).
        """
        from openmyna.portal.moving.service import MovingOneStop
        from openmyna.portal.moving.tables import MOVING_BODY, MOVING_KIND
        from openmyna.store import open_store

        def build() -> MovingOneStop:
            moving = MovingOneStop(
                open_store(self.settings, MOVING_KIND, MOVING_BODY),
                self.clock,
                eapply=self.portal_eapply,
                notices=self.portal_notices,
                backoffice=self.backoffice,
                registries=self.registries,
                issuer=self.jpki(follow_events=True),
            )
            moving.subscribe(self.bus())
            return moving

        return self._once("portal_moving", build, lambda m: m.close())

    def ekyc(self) -> EkycPlatform:
        """The eKYC platform operator: its own store, a JPKI verifier asking OCSP at each use."""
        from openmyna.ekyc import EkycPlatform
        from openmyna.ekyc.tables import EKYC_BODY, EKYC_KIND
        from openmyna.store import open_store

        def build() -> EkycPlatform:
            # The status at the time of use: the JPKI's OCSP responder is asked on every
            # query (no cache, no CRL fallback), as 犯収法施行規則 6条1項1号ワ's check wants.
            store = open_store(self.settings, EKYC_KIND, EKYC_BODY)
            return EkycPlatform(store, self.clock, self.status_at_use_verifier())

        return self._once("ekyc", build, lambda e: e.close())

    def latest_items(self) -> LatestItems:
        """最新の4情報提供サービス (J4): its own store, following the registries on the bus.

        Signatures are checked as the e-applications' are (every status asked anew); built
        with the platform so that it follows the bus from the start.
        """
        from openmyna.latest_items import LatestItems
        from openmyna.latest_items.tables import LATEST_ITEMS_BODY, LATEST_ITEMS_KIND
        from openmyna.portal.eapply.holders import IssuerHolders
        from openmyna.store import open_store

        def build() -> LatestItems:
            jpki = self.jpki(follow_events=True)
            service = LatestItems(
                open_store(self.settings, LATEST_ITEMS_KIND, LATEST_ITEMS_BODY),
                self.clock,
                key_file=self.settings.data_dir / "keys" / "latest-items-webhook.key",
                issuer=jpki,
                links=lambda: self.portal().accounts,
                verifier=self.status_at_use_verifier(),
                holders=IssuerHolders(lambda: self.portal().accounts, jpki),
            )
            service.subscribe(self.bus())
            return service

        return self._once("latest_items", build, lambda service: service.close())

    # --- the Information Provision Network -------------------------------------------------

    def network(self) -> LocalNetwork:
        """The hub and every agency node in this process (each opened on first exchange)."""
        from openmyna.network.local import LocalNetwork

        return self._once(
            "network",
            lambda: LocalNetwork(self.settings, self.clock, self.identity_index()),
            lambda n: n.close(),
        )

    def network_ca(self) -> NetworkCA:
        """The network CA of this data dir: node identities for mutual TLS and signing."""
        from openmyna.network.netca import NetworkCA

        return self._once(
            "network_ca", lambda: NetworkCA.open(self.settings, self.clock), lambda _ca: None
        )

    def hub(self) -> Hub:
        """The hub as a process runs it: its own database, the identity index to read."""
        from openmyna.network.hub import Hub
        from openmyna.network.netca import HUB_ID

        def build() -> Hub:
            ca = self.network_ca()
            return Hub.open(
                self.settings, self.clock, self.identity_index(), ca.node(HUB_ID), ca.resolver()
            )

        return self._once("hub", build, lambda h: h.close())

    def node(self, agency_id: str) -> AgencyNode:
        """An agency's node as a process runs it: its identity and database, the hub's key."""
        from openmyna.network.netca import HUB_ID
        from openmyna.network.node import AgencyNode

        def build() -> AgencyNode:
            ca = self.network_ca()
            identity = ca.node(agency_id)
            resolve = ca.resolver()
            hub_public = resolve(HUB_ID)
            if hub_public is None:  # the hub has not started yet: its identity is issued now
                hub_public = ca.node(HUB_ID).certificate
            return AgencyNode.open(self.settings, self.clock, identity, hub_public, resolve)

        return self._once(f"node:{agency_id}", build, lambda n: n.close())

    def exchange_records(self) -> ExchangeRecords:
        """The hub's exchange records (情報提供等記録), for checking and oversight."""
        from openmyna.network.records import ExchangeRecords

        return self._once(
            "exchange_records",
            lambda: ExchangeRecords.open(self.settings, self.clock),
            lambda r: r.close(),
        )

    def agency_codes(self) -> AgencyCodes:
        """The hub's agency-specific codes (機関別符号), over the identity index."""
        from openmyna.network.codes import AgencyCodes

        return self._once(
            "agency_codes",
            lambda: AgencyCodes.open(self.settings, self.clock, self.identity_index()),
            lambda c: c.close(),
        )

    def oidc(self) -> Oidc:
        """The OpenID Connect provider for businesses (identity/oidc): its own store, the
        portal's card login and accounts, the JPKI verifier for the consent's signature."""
        from openmyna.identity.oidc.provider import Provider
        from openmyna.identity.oidc.service import Oidc
        from openmyna.identity.oidc.signing import ConsentSigning
        from openmyna.identity.oidc.status import CardStatus
        from openmyna.identity.oidc.tables import OIDC_BODY, OIDC_KIND
        from openmyna.pki.keys import installation_kek
        from openmyna.portal.eapply.holders import IssuerHolders
        from openmyna.store import open_store

        def build() -> Oidc:
            jpki = self.jpki(follow_events=True)
            kek = installation_kek(self.settings)
            # The pairwise subjects' key: derived from the installation's secret, so it is as
            # stable as the installation (and never stored beside the subjects).
            subject_secret = hmac.new(
                kek, b"openmyna oidc pairwise subject", hashlib.sha256
            ).digest()
            provider = Provider(
                open_store(self.settings, OIDC_KIND, OIDC_BODY),
                self.clock,
                kek=kek,
                subject_secret=subject_secret,
                status=CardStatus(lambda: self.portal().accounts, jpki),
                public_origin=self.settings.portal.public_origin,
            )
            # The consent's signature is checked as an application's: status asked anew.
            holders = IssuerHolders(lambda: self.portal().accounts, jpki)
            signing = ConsentSigning(
                provider, verifier=self.status_at_use_verifier(), holders=holders
            )
            return Oidc(provider, signing)

        return self._once("oidc", build, lambda o: o.close())

    def status_at_use_verifier(self) -> Verifier:
        """A JPKI verifier that asks the OCSP responder about every certificate, every time
        (no cache): signatures on applications, consents and eKYC queries, not logins."""
        from openmyna.pki import CertKind, RevocationChecker, Verifier

        jpki = self.jpki(follow_events=True)
        revocation = RevocationChecker(
            self.clock, ocsp_fetch=jpki.ocsp_fetcher(), max_age=dt.timedelta(0)
        )
        return Verifier(
            {k: jpki.ca_certificate(k) for k in CertKind}, self.clock, revocation=revocation
        )

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close every part built, newest first (idempotent)."""
        with self._lock:
            closers, self._closers = self._closers, []
            self._parts.clear()
            self._closed = True
        failure: BaseException | None = None
        for close in reversed(closers):
            try:
                close()
            except BaseException as exc:  # noqa: BLE001 - close the rest, then re-raise the first
                failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> Builder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
