"""The JPKI issuer (公的個人認証サービス): issues, suspends, revokes, answers OCSP, publishes CRLs.

``Jpki`` is the facade the card lifecycle, the web app and the CLI use. It owns the two CAs
(``ca.py``), the issuer's database (store kind ``pki``, body ``jlis``), the OCSP responder
(``ocsp.py``), issuance (``issuance.py``), CRL publication (``crl.py``) and the bus consumer
that turns registry and card events into revocations (``revocation.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from openmyna.bus import Bus, Event, idempotent
from openmyna.clock import Clock
from openmyna.config import PkiSettings, Settings
from openmyna.pki import crl as crl_mod
from openmyna.pki import issuance, records
from openmyna.pki.ca import CertificateAuthority, open_authorities
from openmyna.pki.errors import CertificateNotFound
from openmyna.pki.keys import KeyFiles, installation_kek, keys_dir
from openmyna.pki.ocsp import OcspResponder
from openmyna.pki.profiles import CertKind, SignCertItems
from openmyna.pki.records import (
    Action,
    CertRecord,
    CertStatus,
    LogEntry,
    RevocationReason,
    utc,
)
from openmyna.pki.revocation import CONSUMER, SUBJECTS, change_for_resident, target_of
from openmyna.pki.tables import BODY_ID, STORE_KIND, processed_events
from openmyna.store import Store, open_store

log = logging.getLogger(__name__)


class Jpki:
    """The JPKI issuer: both CAs, their records, the OCSP responder and the CRLs."""

    def __init__(
        self,
        store: Store,
        authorities: Mapping[CertKind, CertificateAuthority],
        clock: Clock,
        config: PkiSettings,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self._cas = dict(authorities)
        with store.transaction() as s:
            cursor = records.last_log_id(s)
        self.ocsp = OcspResponder(
            self._cas,
            self._lookup,
            self._changes,
            clock,
            validity=config.ocsp_validity,
            refresh=config.ocsp_refresh,
            poll_interval=config.poll_interval,
            max_entries=config.ocsp_cache_size,
            on_demand_entries=config.ocsp_on_demand_cache_size,
            on_demand_rate=config.ocsp_on_demand_rate,
            cursor=cursor,
        )
        self._handler = idempotent(store.transaction, processed_events, CONSUMER, self._apply_event)
        self._event_changed = False  # set by an event that changed a status (pumping thread)

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> Jpki:
        """Open the issuer of an installation (creating CA keys and its database on first use)."""
        config = settings.pki
        settings.ensure_data_dir()
        kek = installation_kek(settings)
        authorities = open_authorities(KeyFiles(keys_dir(settings.data_dir), kek), clock)
        store = open_store(settings, STORE_KIND, BODY_ID)
        try:
            return cls(store, authorities, clock, config)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    def __enter__(self) -> Jpki:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the CAs ------------------------------------------------------------------------------

    def authority(self, kind: CertKind) -> CertificateAuthority:
        """One CA with its responder (keys included: for the issuer's own components)."""
        return self._cas[CertKind(kind)]

    def ca_certificate(self, kind: CertKind) -> x509.Certificate:
        """The CA certificate of a kind (the trust anchor relying parties configure)."""
        return self._cas[CertKind(kind)].cert

    def responder_certificate(self, kind: CertKind) -> x509.Certificate:
        """The delegated OCSP responder certificate of a CA."""
        return self._cas[CertKind(kind)].responder_cert

    # --- issuance -----------------------------------------------------------------------------

    def issue_auth_cert(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        date_of_birth: dt.date,
        card_expiry: dt.date | None,
        card_id: str | None = None,
        stay_expires_on: dt.date | None = None,
    ) -> x509.Certificate:
        """Issue a user-authentication certificate (利用者証明用電子証明書); no personal data.

        It runs to the 5th birthday after today, no later than ``card_expiry`` and a foreign
        resident's ``stay_expires_on`` (在留期間等の満了の日), as ``openmyna.law`` has it.
        """
        return self._issue(
            CertKind.AUTH,
            public_key,
            resident_code=resident_code,
            date_of_birth=date_of_birth,
            card_expiry=card_expiry,
            stay_expires_on=stay_expires_on,
            card_id=card_id,
            items=None,
        )

    def issue_sign_cert(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        name: str,
        address: str,
        date_of_birth: dt.date,
        sex: int,
        card_expiry: dt.date | None,
        card_id: str | None = None,
        stay_expires_on: dt.date | None = None,
    ) -> x509.Certificate:
        """Issue a signature certificate (署名用電子証明書) carrying the 4 basic items.

        Refused with ``SIGN_CERT_UNDER_15`` for residents under 15 on the day of issue (the
        law's age: ``openmyna.law``); validity as for the authentication certificate.
        """
        items = issuance.sign_items(
            name=name,
            address=address,
            date_of_birth=date_of_birth,
            sex=sex,
            today=self.clock.today(),
        )
        return self._issue(
            CertKind.SIGN,
            public_key,
            resident_code=resident_code,
            date_of_birth=date_of_birth,
            card_expiry=card_expiry,
            stay_expires_on=stay_expires_on,
            card_id=card_id,
            items=items,
        )

    def _issue(
        self,
        kind: CertKind,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        date_of_birth: dt.date,
        card_expiry: dt.date | None,
        stay_expires_on: dt.date | None,
        card_id: str | None,
        items: SignCertItems | None,
    ) -> x509.Certificate:
        cert = issuance.issue(
            self.store,
            self._cas[kind],
            public_key,
            resident_code=resident_code,
            date_of_birth=date_of_birth,
            card_expiry=card_expiry,
            stay_expires_on=stay_expires_on,
            card_id=card_id,
            items=items,
            now=self.clock.now(),
            today=self.clock.today(),
            base_url=self.config.base_url,
        )
        # an "unknown" answer cached for this serial before it was issued is wrong now
        self.ocsp.invalidate(cert.serial_number)
        if self.config.presign_on_issue:
            self.ocsp.presign([(kind, cert.serial_number)])
        return cert

    # --- status changes -------------------------------------------------------------------------

    def _record(self, s: Session, serial: int) -> CertRecord:
        record = records.get_record(s, serial)
        if record is None:
            raise CertificateNotFound("no certificate with that serial", serial=f"{serial:x}")
        return record

    def _change(
        self, serial: int, action: Action, reason: RevocationReason | None, actor: str
    ) -> bool:
        with self.store.transaction() as s:
            record = self._record(s, serial)
            changed = records.change_status(
                s, record, action, reason=reason, at=self.clock.now(), actor=actor
            )
        if changed:
            self.ocsp.poll()
        return changed

    def revoke(
        self,
        serial: int,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
        *,
        actor: str = "jpki",
    ) -> bool:
        """Revoke a certificate for good (失効); False if it already was."""
        if reason is RevocationReason.CERTIFICATE_HOLD:
            return self.suspend(serial, actor=actor)
        return self._change(serial, Action.REVOKE, RevocationReason(reason), actor)

    def suspend(self, serial: int, *, actor: str = "jpki") -> bool:
        """Suspend a certificate (一時停止, certificateHold); False if it already was."""
        return self._change(serial, Action.SUSPEND, RevocationReason.CERTIFICATE_HOLD, actor)

    def resume(self, serial: int, *, actor: str = "jpki") -> bool:
        """Lift a suspension; False if the certificate was not suspended.

        A revoked certificate cannot be resumed (``CERT_ALREADY_REVOKED``).
        """
        return self._change(serial, Action.RESUME, None, actor)

    def _change_for_resident(
        self,
        resident_code: str,
        kinds: Iterable[CertKind],
        action: Action,
        reason: RevocationReason | None,
        *,
        issued_up_to: dt.datetime | None,
        card_id: str | None,
        actor: str,
    ) -> list[int]:
        """Apply ``action`` to a resident's matching certificates in one transaction."""
        with self.store.transaction() as s:
            done = change_for_resident(
                s,
                resident_code,
                kinds,
                action,
                reason,
                at=self.clock.now(),
                issued_up_to=issued_up_to,
                card_id=card_id,
                actor=actor,
                event_id=None,
            )
        if done:
            self.ocsp.poll()
        return done

    def revoke_for_resident(
        self,
        resident_code: str,
        kinds: Iterable[CertKind] = (CertKind.AUTH, CertKind.SIGN),
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
        *,
        issued_up_to: dt.datetime | None = None,
        card_id: str | None = None,
        actor: str = "jpki",
    ) -> list[int]:
        """Revoke a resident's good or suspended certificates of ``kinds``; their serials."""
        return self._change_for_resident(
            resident_code,
            kinds,
            Action.REVOKE,
            RevocationReason(reason),
            issued_up_to=issued_up_to,
            card_id=card_id,
            actor=actor,
        )

    def suspend_for_resident(
        self,
        resident_code: str,
        kinds: Iterable[CertKind] = (CertKind.AUTH, CertKind.SIGN),
        *,
        card_id: str | None = None,
        actor: str = "jpki",
    ) -> list[int]:
        """Suspend a resident's good certificates of ``kinds``; their serials."""
        return self._change_for_resident(
            resident_code,
            kinds,
            Action.SUSPEND,
            RevocationReason.CERTIFICATE_HOLD,
            issued_up_to=None,
            card_id=card_id,
            actor=actor,
        )

    def resume_for_resident(
        self,
        resident_code: str,
        kinds: Iterable[CertKind] = (CertKind.AUTH, CertKind.SIGN),
        *,
        card_id: str | None = None,
        actor: str = "jpki",
    ) -> list[int]:
        """Resume a resident's suspended certificates of ``kinds``; their serials."""
        return self._change_for_resident(
            resident_code,
            kinds,
            Action.RESUME,
            None,
            issued_up_to=None,
            card_id=card_id,
            actor=actor,
        )

    # --- looking things up ----------------------------------------------------------------------

    def status(self, serial: int) -> CertStatus:
        """The recorded status of a certificate (``CERT_NOT_FOUND`` if never issued here)."""
        return self.record(serial).status

    def record(self, serial: int) -> CertRecord:
        """Everything the issuer records about a certificate."""
        with self.store.transaction() as s:
            return self._record(s, serial)

    def certificate(self, serial: int) -> x509.Certificate:
        """A certificate this issuer issued, by serial number."""
        with self.store.transaction() as s:
            der = records.get_der(s, serial)
        if der is None:
            raise CertificateNotFound("no certificate with that serial", serial=f"{serial:x}")
        return x509.load_der_x509_certificate(bytes(der))

    def certificates_of(self, resident_code: str) -> list[CertRecord]:
        """A resident's certificates, oldest first."""
        with self.store.transaction() as s:
            return records.records_of(s, resident_code)

    def previous_auth_serials(self, serial: int) -> list[int]:
        """The holder's earlier user-authentication certificates' serials, newest first.

        The issuer's serial-number linkage for relying parties (J-LIS's 利用者証明用電子証明書
        新旧シリアル番号紐付けサービス): a service that knew a person by an old certificate
        finds them again after a renewal or a new card. Only the issuer can tell, since
        certificates carry nothing that ties them together.
        """
        with self.store.transaction() as s:
            record = self._record(s, serial)
            if record.kind is not CertKind.AUTH:
                return []
            earlier = records.records_of(s, record.resident_code, [CertKind.AUTH])
        return [
            r.serial
            for r in sorted(earlier, key=lambda r: r.issued_at, reverse=True)
            if r.serial != serial and r.issued_at <= record.issued_at
        ]

    def revocation_log(self, serial: int | None = None) -> list[LogEntry]:
        """The revocation log (of one certificate, or all), oldest first."""
        with self.store.transaction() as s:
            return records.log_entries(s, serial=serial)

    def _lookup(self, serial: int) -> CertRecord | None:
        with self.store.transaction() as s:
            return records.get_record(s, serial)

    def revocation_changes(self, after: int, *, limit: int = 10_000) -> list[LogEntry]:
        """Revocation-log rows after the row id ``after``, oldest first (a follower's cursor).

        A relying party in this process (the portal) follows the log with it, to end what a
        revoked or suspended certificate opened as soon as the issuer records the change.
        """
        with self.store.transaction() as s:
            return records.log_entries(s, after=after, limit=limit)

    def status_position(self) -> int:
        """The last revocation-log row the OCSP answers reflect (in memory, no database read).

        A relying party following the log (``revocation_changes``) acts on rows up to here:
        past it, the responder may still answer with the status from before the change.
        """
        return self.ocsp.applied

    def _changes(self, after: int) -> list[LogEntry]:
        return self.revocation_changes(after)

    # --- OCSP and CRLs --------------------------------------------------------------------------

    def respond_ocsp(self, request_der: bytes) -> bytes:
        """Answer one DER OCSP request (the in-process responder; also behind ``/ocsp``)."""
        if self.ocsp.poll_due():
            try:
                self.ocsp.poll()
            except Exception:  # noqa: BLE001 - a failed poll must not fail the answer
                log.warning("OCSP change poll failed; answering from the cache")
        return self.ocsp.respond(request_der)

    def ocsp_fetcher(self) -> Callable[[str, bytes], bytes]:
        """An in-process OCSP fetcher for ``RevocationChecker`` (the URL is not used)."""

        def fetch(_url: str, request_der: bytes) -> bytes:
            return self.respond_ocsp(request_der)

        return fetch

    def crl_fetcher(self) -> Callable[[str], bytes]:
        """An in-process CRL fetcher for ``RevocationChecker`` (``…/crl/auth`` or ``…/sign``)."""

        def fetch(url: str) -> bytes:
            return self.published_crl(CertKind(url.rstrip("/").rsplit("/", 1)[-1])).der

        return fetch

    def publish_crls(self) -> dict[CertKind, crl_mod.PublishedCrl]:
        """Publish a new CRL for each CA now (numbered, nextUpdate set); what was published."""
        return {kind: self._publish(kind) for kind in CertKind}

    def _publish(self, kind: CertKind) -> crl_mod.PublishedCrl:
        return crl_mod.publish(
            self.store, self._cas[kind], self.clock.now(), self.config.crl_validity
        )

    def published_crl(self, kind: CertKind) -> crl_mod.PublishedCrl:
        """The newest CRL of a CA; published first if there is none or it is past nextUpdate."""
        kind = CertKind(kind)
        with self.store.transaction() as s:
            found = crl_mod.latest(s, kind)
        if found is None or found.next_update <= self.clock.now():
            found = self._publish(kind)
        return found

    def crl(self, kind: CertKind) -> x509.CertificateRevocationList:
        """The newest CRL of a CA (see ``published_crl``)."""
        return self.published_crl(kind).load()

    def maintain(self) -> dict[str, int]:
        """Periodic work: pick up status changes, re-sign aging OCSP responses, publish CRLs.

        A CRL is published when ``crl_interval`` has passed since the last one or the
        revocation log has moved past what it covers. Returns what was done.
        """
        changed = self.ocsp.poll()
        refreshed = self.ocsp.refresh_due()
        published = 0
        now = self.clock.now()
        with self.store.transaction() as s:
            last_change = records.last_log_id(s)
            latest = {kind: crl_mod.latest(s, kind) for kind in CertKind}
        for kind, found in latest.items():
            if (
                found is None
                or found.last_change < last_change
                or now - found.this_update >= self.config.crl_interval
                or found.next_update <= now
            ):
                self._publish(kind)
                published += 1
        return {"changed": changed, "refreshed": refreshed, "crls_published": published}

    # --- events ---------------------------------------------------------------------------------

    def subscribe(self, bus: Bus) -> None:
        """Subscribe the revoker to registry and card events (durable consumer ``pki-revoker``)."""
        bus.subscribe(CONSUMER, list(SUBJECTS), self.handle)

    def handle(self, event: Event) -> None:
        """Bus handler: apply one event at most once (inbox in the issuer's database)."""
        self._event_changed = False
        self._handler(event)
        if self._event_changed:  # committed: re-sign the changed serials' OCSP responses now
            self.ocsp.poll()

    def _apply_event(self, s: Session, event: Event) -> None:
        target = target_of(event)
        if target is None:
            return
        rule = target.rule
        done = change_for_resident(
            s,
            target.resident_code,
            rule.kinds,
            rule.action,
            rule.reason,
            at=self.clock.now(),
            issued_up_to=None if rule.action is Action.RESUME else utc(event.occurred_at),
            card_id=target.card_id,
            actor=CONSUMER,
            event_id=event.id,
        )
        if done:
            self._event_changed = True
            log.info("event %s (%s): %s certificate(s) changed", event.id, event.type, len(done))
