"""The card's lifecycle (SPEC C1, C2): application, issuance, loss, reissue, loss of effect.

``CardLifecycle`` keeps the card register (store kind ``card``, body ``jlis``: the issuer's
role) and runs the steps a municipality's counter and J-LIS take:

- **application** (交付申請) at the counter, online, or with the birth registration (the
  ``registry.birth`` event's ``card_application``);
- **issuance** (交付) after identity verification: a new ``VirtualCard`` generates its keys,
  the JPKI issuer certifies the public keys, the card is personalised and the initial PINs
  are set; a previous valid card of the same person is revoked (reissue);
- **loss** (紛失, ``card.lost``: suspended) and **found** (``card.found``), **return** (返納);
- **PIN reset at the counter** (暗証番号の初期化) after identity verification;
- **update after a move or a new name** (券面記載事項変更, ``update_card_data``): the face's
  追記欄, the chip's 4 items, the signature certificate revoked and issued again on request;
- **loss of effect** (失効) on death and on moving abroad (registry events), on a move-in
  registered too late or not at all, and without the continued-use step after a move;
  **expiry** on the day after the validity ends (``check_deadlines``, against the clock).

Registry events arrive through a durable bus consumer (``card-lifecycle``), applied once
each with the bus's inbox; card events leave through the transactional outbox. The rows of
each step (status changes, the issued card, audit, staged events) are written by
``register.Register``; the effects of registry events and the moves by ``registry_events``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Protocol

from sqlalchemy import select

from openmyna.bus import Bus, Event, idempotent, relay
from openmyna.card.client import CardClient
from openmyna.card.counts import CardCounts, card_counts, valid_holder_codes
from openmyna.card.engine import VirtualCard
from openmyna.card.errors import (
    CardNotFound,
    CardStateError,
    CardTransitionRefused,
    HolderNotResident,
    NothingToUpdate,
    PeriodOfStayEnded,
)
from openmyna.card.issuance import CertificateIssuer, make_card
from openmyna.card.layout import PinRef
from openmyna.card.models import (
    ApplicationChannel,
    CardApplication,
    CardAuditEntry,
    CardEventType,
    CardRecord,
    CardStatus,
    CardUpdate,
    IssuedCard,
    StatusReason,
)
from openmyna.card.personalize import (
    DataSigner,
    remove_sign_cert,
    renew_sign_key,
    reset_pin,
    rewrite_text_data,
    sign_cert_on,
    write_sign_cert,
)
from openmyna.card.pin import PinRule
from openmyna.card.register import (
    Register,
    application_of,
    checked,
    record_of,
    serial_hex,
    who,
)
from openmyna.card.registry_events import (
    AWAITING_CONTINUATION,
    SUBJECTS,
    RegistryEffects,
)
from openmyna.card.surface import CardSurface
from openmyna.card.tables import (
    applications,
    audit_log,
    cards,
    outbox,
    processed_events,
)
from openmyna.card.transport import MemoryTransport
from openmyna.card.update import changed_items, endorsements, items_of
from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.law import card_last_day, may_hold_sign_cert
from openmyna.pki import CertKind, RevocationReason
from openmyna.pki.errors import SignCertUnderAge
from openmyna.registry import IdentityEntry, IdentityStatus
from openmyna.store import Store

log = logging.getLogger(__name__)

CONSUMER = "card-lifecycle"


class IdentitySource(Protocol):
    """The national identity index (本人確認情報), as issuance reads it."""

    def by_resident_code(self, resident_code: str) -> IdentityEntry:
        """The entry of a resident-record code."""
        ...


class CardLifecycle:
    """The card register and the steps of a card's life."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        identities: IdentitySource,
        jpki: Callable[[], CertificateIssuer],
        signer: Callable[[], DataSigner],
        bus: Bus | None = None,
        auto_relay: bool = True,
    ) -> None:
        """``jpki`` and ``signer`` are factories, called once when issuance first needs them.

        Their parts belong to the caller (``openmyna.builder.Builder`` wires them).
        """
        self.store = store
        self.clock = clock
        self.identities = identities
        self.bus = bus
        self.auto_relay = auto_relay
        self._jpki_factory = jpki
        self._jpki: CertificateIssuer | None = None
        self._signer_factory = signer
        self._signer: DataSigner | None = None
        self.register = Register(clock)
        self.effects = RegistryEffects(self.register)
        self._apply = idempotent(store.transaction, processed_events, CONSUMER, self.effects.apply)
        if bus is not None:
            self.subscribe(bus)
            self.relay()

    def close(self) -> None:
        """Release the register's connections."""
        self._jpki = None
        self.store.close()

    def __enter__(self) -> CardLifecycle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _issuer(self) -> CertificateIssuer:
        if self._jpki is None:
            self._jpki = self._jpki_factory()
        return self._jpki

    def _data_signer(self) -> DataSigner:
        if self._signer is None:
            self._signer = self._signer_factory()
        return self._signer

    # --- bus ---------------------------------------------------------------------------------

    def subscribe(self, bus: Bus) -> None:
        """Follow the registries' events as the durable consumer ``card-lifecycle``."""
        self.bus = bus
        bus.subscribe(CONSUMER, list(SUBJECTS), self.handle)

    def handle(self, event: Event) -> None:
        """Bus handler: apply one registry event at most once, then relay card events."""
        self._apply(event)
        self.relay()

    def relay(self) -> int:
        """Publish staged card events (failures are kept for the next relay)."""
        if self.bus is None or not self.auto_relay:
            return 0
        try:
            return relay(self.store.transaction, outbox, self.bus)
        except (OpenMynaError, OSError) as exc:
            log.warning("relay of card events failed (%s); kept in the outbox", type(exc).__name__)
            return 0

    # --- reading --------------------------------------------------------------------------------

    def card(self, card_id: str) -> CardRecord:
        """A card of the register."""
        with self.store.transaction() as s:
            row = s.execute(select(cards).where(cards.c.card_id == card_id)).mappings().first()
        if row is None:
            raise CardNotFound("no card with that id")
        return record_of(row)

    def cards(
        self, resident_code: str | None = None, status: CardStatus | None = None
    ) -> list[CardRecord]:
        """Cards, newest first, optionally of one person or in one status."""
        query = select(cards).order_by(cards.c.issued_on.desc(), cards.c.card_id)
        if resident_code is not None:
            query = query.where(cards.c.resident_code == resident_code)
        if status is not None:
            query = query.where(cards.c.status == status.value)
        with self.store.transaction() as s:
            return [record_of(r) for r in s.execute(query).mappings()]

    def counts(self) -> CardCounts:
        """How many cards per municipality and status, and issued per month (public statistics)."""
        with self.store.transaction() as s:
            return card_counts(s)

    def valid_holders(self, chunk: int = 500) -> Iterator[list[str]]:
        """The resident-record codes of valid cards' holders, ``chunk`` at a time (for counts)."""
        after = ""
        while True:
            with self.store.transaction() as s:
                codes = valid_holder_codes(s, after=after, limit=chunk)
            if codes:
                yield codes
            if len(codes) < chunk:
                return
            after = codes[-1]

    def valid_card(self, resident_code: str) -> CardRecord | None:
        """The person's card that is active or suspended, if any."""
        with self.store.transaction() as s:
            row = self.register.valid_row(s, resident_code)
        return None if row is None else record_of(row)

    def applications(self, resident_code: str | None = None) -> list[CardApplication]:
        """Card applications, oldest first."""
        query = select(applications).order_by(applications.c.applied_on)
        if resident_code is not None:
            query = query.where(applications.c.resident_code == resident_code)
        with self.store.transaction() as s:
            return [application_of(r) for r in s.execute(query).mappings()]

    def audit_entries(self, card_id: str | None = None) -> list[CardAuditEntry]:
        """The audit log, oldest first."""
        query = select(audit_log).order_by(audit_log.c.entry_id)
        if card_id is not None:
            query = query.where(audit_log.c.card_id == card_id)
        with self.store.transaction() as s:
            return [CardAuditEntry(**dict(r)) for r in s.execute(query).mappings()]

    # --- application and issuance (C1) -----------------------------------------------------------

    def _current_identity(self, resident_code: str) -> IdentityEntry:
        entry = self.identities.by_resident_code(resident_code)
        if entry.status is not IdentityStatus.CURRENT:
            raise HolderNotResident("the person is not a current resident")
        return entry

    def apply(
        self,
        resident_code: str,
        *,
        channel: ApplicationChannel | str = ApplicationChannel.COUNTER,
        actor: str = "counter",
        reason: str = "card application",
    ) -> CardApplication:
        """Record a card application (交付申請) for a current resident."""
        actor, reason = who(actor, reason)
        entry = self._current_identity(resident_code)
        with self.store.transaction() as s:
            app_id = self.register.insert_application(
                s, resident_code, entry.lg_code, ApplicationChannel(channel), self.clock.today()
            )
            self.register.audit(
                s, "card.applied", actor=actor, reason=reason, resident_code=resident_code
            )
            row = (
                s.execute(select(applications).where(applications.c.application_id == app_id))
                .mappings()
                .one()
            )
        return application_of(row)

    def issue(
        self,
        resident_code: str,
        *,
        auth_pin: str,
        sign_password: str | None,
        text_pin: str | None = None,
        identity_check: str,
        application_id: str | None = None,
        replace: bool = False,
        actor: str = "counter",
        reason: str = "card issuance",
    ) -> IssuedCard:
        """Issue a card on a pending application, after identity verification (交付).

        ``text_pin`` defaults to ``auth_pin`` (the text AP's PIN is set at the same time).
        ``sign_password`` may be None only for residents under 15, who get no signature
        certificate. With ``replace`` a valid card of the same person is revoked (reissue);
        without it such a card is a conflict.
        """
        actor, reason = who(actor, reason)
        check = checked(identity_check)
        entry = self._current_identity(resident_code)
        today = self.clock.today()
        # The same rule the JPKI issuer applies (openmyna.law), so the two cannot disagree.
        signs = may_hold_sign_cert(entry.date_of_birth, today)
        PinRule.AUTH_PIN.require(auth_pin)
        PinRule.TEXT_PIN.require(text_pin or auth_pin)
        if sign_password is not None or signs:
            PinRule.SIGN_PASSWORD.require(sign_password or "")
        with self.store.transaction() as s:
            application = self.register.pending_application(s, resident_code, application_id)
            if self.register.valid_row(s, resident_code) is not None and not replace:
                raise CardTransitionRefused("the person already holds a valid card; reissue it")
        # The card 命令: the age on the day the application was received picks 10 or 5
        # birthdays (18 from 2022-04-01, 20 before); a period of stay ends it earlier.
        expiry = card_last_day(
            entry.date_of_birth,
            applied_on=application["applied_on"],
            issued_on=today,
            stay_expires_on=entry.stay_expires_on,
        )
        if expiry < today:
            raise PeriodOfStayEnded("the period of stay ended before the day of issue")
        card, auth_cert, sign_cert = make_card(
            entry,
            self._issuer(),
            self._data_signer(),
            card_expiry=expiry,
            auth_pin=auth_pin,
            sign_password=sign_password,
            text_pin=text_pin or auth_pin,
        )
        with self.store.transaction() as s:
            row = self.register.record_issued(
                s,
                card.card_id,
                resident_code,
                lg_code=entry.lg_code,
                application_id=application_id,
                replace=replace,
                issued_on=today,
                expires_on=expiry,
                auth_cert=auth_cert,
                sign_cert=sign_cert,
                actor=actor,
                reason=f"{reason}; identity check: {check}",
            )
        self.relay()
        return IssuedCard(record_of(row), card)

    def reissue(
        self,
        resident_code: str,
        *,
        auth_pin: str,
        sign_password: str | None,
        text_pin: str | None = None,
        identity_check: str,
        actor: str = "counter",
        reason: str = "card reissue",
    ) -> IssuedCard:
        """Apply and issue a new card, revoking the person's valid card (再交付)."""
        application = self.apply(
            resident_code, channel=ApplicationChannel.REISSUE, actor=actor, reason=reason
        )
        return self.issue(
            resident_code,
            auth_pin=auth_pin,
            sign_password=sign_password,
            text_pin=text_pin,
            identity_check=identity_check,
            application_id=application.application_id,
            replace=True,
            actor=actor,
            reason=reason,
        )

    # --- status changes (C2) ---------------------------------------------------------------------

    def _change(
        self,
        card_id: str,
        allowed: tuple[CardStatus, ...],
        status: CardStatus,
        why: StatusReason | None,
        event: CardEventType,
        *,
        actor: str,
        reason: str,
        only_reason: StatusReason | None = None,
    ) -> CardRecord:
        actor, reason = who(actor, reason)
        with self.store.transaction() as s:
            row = self.register.change_status(
                s,
                card_id,
                allowed,
                status,
                why,
                event,
                actor=actor,
                reason=reason,
                only_reason=only_reason,
            )
        self.relay()
        return record_of(row)

    def report_lost(
        self, card_id: str, *, actor: str = "holder", reason: str = "reported lost"
    ) -> CardRecord:
        """Suspend a card reported lost or stolen (一時停止, ``card.lost``)."""
        return self._change(
            card_id,
            (CardStatus.ACTIVE,),
            CardStatus.SUSPENDED,
            StatusReason.LOST,
            CardEventType.LOST,
            actor=actor,
            reason=reason,
        )

    def report_found(
        self, card_id: str, *, actor: str = "holder", reason: str = "found again"
    ) -> CardRecord:
        """Lift the suspension of a lost card that was found (``card.found``)."""
        return self._change(
            card_id,
            (CardStatus.SUSPENDED,),
            CardStatus.ACTIVE,
            None,
            CardEventType.FOUND,
            actor=actor,
            reason=reason,
            only_reason=StatusReason.LOST,
        )

    def return_card(
        self, card_id: str, *, actor: str = "counter", reason: str = "returned by the holder"
    ) -> CardRecord:
        """The holder returns the card (返納, ``card.returned``)."""
        return self._change(
            card_id,
            (CardStatus.ACTIVE, CardStatus.SUSPENDED),
            CardStatus.RETURNED,
            StatusReason.RETURNED,
            CardEventType.RETURNED,
            actor=actor,
            reason=reason,
        )

    def unlock_pin(
        self,
        card: VirtualCard,
        pin: PinRef,
        *,
        identity_check: str,
        new_value: str | None = None,
        actor: str = "counter",
        reason: str = "PIN reset at the counter",
    ) -> None:
        """Reset a locked or forgotten PIN at the counter (初期化), after identity verification."""
        actor, reason = who(actor, reason)
        check = checked(identity_check)
        record = self.card(card.card_id)
        if record.status is not CardStatus.ACTIVE:
            raise CardTransitionRefused("only an active card's PIN can be reset")
        self._current_identity(record.resident_code)
        if new_value is not None:
            pin.rule.require(new_value)
        reset_pin(card, pin, new_value)
        with self.store.transaction() as s:
            self.register.audit(
                s,
                "card.pin_reset",
                actor=actor,
                reason=f"{reason} ({pin.name.lower()}); identity check: {check}",
                card_id=record.card_id,
                resident_code=record.resident_code,
            )

    def update_card_data(
        self,
        card: VirtualCard,
        surface: CardSurface,
        *,
        holder_pin: str,
        sign_password: str | None,
        identity_check: str,
        actor: str = "counter",
        reason: str = "券面記載事項変更",
    ) -> CardUpdate:
        """Update a card at the counter after a move or a new name (``card.update``).

        ``holder_pin`` is the holder's 券面事項入力補助 PIN (a wrong one counts on the card);
        ``sign_password`` asks for a new signature certificate, None for none. The steps and
        their sources are in ``openmyna.card.update``. Refused for a card that is not active,
        a holder who is not a current resident (moved out, not yet in), a full 追記欄,
        or a card whose data is current when no new certificate is asked for.
        """
        actor, reason = who(actor, reason)
        check = checked(identity_check)
        record = self.card(card.card_id)
        if record.status is not CardStatus.ACTIVE:
            raise CardTransitionRefused("only an active card can be updated")
        entry = self._current_identity(record.resident_code)
        today = self.clock.today()
        with self.store.transaction() as s:
            move = self.effects.pending_move(s, record.resident_code)
        # (A holder who moved out and is not moved in yet is not a current resident above.)
        continuing = move is not None and move["state"] == AWAITING_CONTINUATION
        if sign_password is not None:
            PinRule.SIGN_PASSWORD.require(sign_password)
            if not may_hold_sign_cert(entry.date_of_birth, today):
                raise SignCertUnderAge("no signature certificate is issued to a resident under 15")
        on_chip = CardClient(MemoryTransport(card)).read_text_data(holder_pin)
        if not on_chip.intact or on_chip.individual_number != entry.individual_number:
            raise CardStateError("the chip's data is not the holder's as the issuer wrote it")
        wanted = items_of(entry.name, entry.address, entry.date_of_birth, int(entry.sex))
        changed = changed_items(on_chip.items, wanted)
        lines = endorsements(changed, wanted, today)
        surface.require_room(len(lines))
        if not (changed or continuing or record.data_stale or sign_password is not None):
            raise NothingToUpdate("the card's data matches the registry: nothing to update")
        # The old certificates first: a certificate whose 4 items are old must not outlive
        # the update, whatever happens next; on a rerun this also ends a certificate that a
        # crashed run issued but did not record.
        why = RevocationReason.AFFILIATION_CHANGED if changed else RevocationReason.SUPERSEDED
        revoked: list[int] = []
        if changed or sign_password is not None or record.data_stale:
            revoked = self._issuer().revoke_for_resident(
                record.resident_code,
                (CertKind.SIGN,),
                why,
                card_id=card.card_id,
                actor=actor,
            )
        new_cert = None
        if sign_password is not None:
            new_cert = self._issuer().issue_sign_cert(
                renew_sign_key(card),
                resident_code=entry.resident_code,
                name=entry.name,
                address=entry.address,
                date_of_birth=entry.date_of_birth,
                sex=int(entry.sex),
                card_expiry=record.expires_on,
                card_id=card.card_id,
                stay_expires_on=entry.stay_expires_on,
            )
        surface.endorse(lines)
        if changed:
            rewrite_text_data(card, wanted, self._data_signer())
        if new_cert is not None and sign_password is not None:
            write_sign_cert(card, new_cert, sign_password)
        elif revoked or changed:
            remove_sign_cert(card)
        on_card = serial_hex(sign_cert_on(card))
        what = ", ".join(changed) or "no item"
        with self.store.transaction() as s:
            if continuing:
                self.effects.continue_after_move(
                    s, card.card_id, actor=actor, reason=f"continued use with the update; {check}"
                )
            row = self.register.record_update(
                s,
                card.card_id,
                lg_code=entry.lg_code,
                sign_cert_serial=on_card,
                actor=actor,
                reason=f"{reason} ({what}); {check}",
            )
        self.relay()
        return CardUpdate(
            record=record_of(row),
            changed_items=changed,
            previous_sign_cert=record.sign_cert_serial,
            revoked_sign_certs=tuple(format(r, "X") for r in revoked),
            new_sign_cert=serial_hex(new_cert),
            continued=continuing,
        )

    def record_continued_use(
        self, card_id: str, *, actor: str = "counter", reason: str = "continued use after a move"
    ) -> CardRecord:
        """The continued-use step (継続利用) at the new municipality after a move-in."""
        actor, reason = who(actor, reason)
        with self.store.transaction() as s:
            self.effects.continue_after_move(s, card_id, actor=actor, reason=reason)
        return self.card(card_id)

    def check_deadlines(self) -> list[CardRecord]:
        """Expire cards past validity and end cards whose move deadlines passed; the changed."""
        with self.store.transaction() as s:
            changed = self.effects.apply_deadlines(s, self.clock.today())
        self.relay()
        return [self.card(c) for c in changed]
