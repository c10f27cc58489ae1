"""公金決済 (P6): agencies ask, the person pays from the portal, once, and gets a receipt.

- ``request``: an agency asks a person (named by the agency's own code for them, translated
  by the hub to the portal's) to pay an amount for a purpose by a due date; one request per
  agency key (asking again returns the same payment). The Pay-easy numbers are made here.
- ``start``: the person chooses a method; the attempt id (the form's idempotency key) makes a
  double submit one attempt. A paid payment is not started again.
- ``complete``: the provider's signed return is checked, and the provider is asked server to
  server; a succeeded charge marks the payment paid once and gives it a receipt number.

Amounts are whole yen. Only the person the payment is for can see or pay it: every call takes
the account's portal code, and another person's payment id is not found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.errors import Conflict, InvalidInput, NotFound
from openmyna.portal.payments.provider import (
    ChargeStatus,
    Checkout,
    PaymentMethod,
    PaymentProvider,
)
from openmyna.portal.payments.tables import payment_attempts, payment_log, payments
from openmyna.store import Store

#: The largest amount one payment may ask (¥9,999,999; larger sums are split by the agency).
MAX_AMOUNT = 9_999_999
PORTAL_AGENCY = "myna-portal"


class PaymentNotFound(NotFound):
    """No such payment for this person."""

    code = "PAYMENT_NOT_FOUND"


class PaymentClosed(Conflict):
    """The payment is paid or cancelled: it cannot be paid (again)."""

    code = "PAYMENT_CLOSED"


class PaymentReturnRefused(InvalidInput):
    """A return from the provider that is not signed by it, or names another attempt."""

    code = "PAYMENT_RETURN_REFUSED"


class CodeTranslator(Protocol):
    """The hub, as it gives the portal's code for an agency's code."""

    def translate(self, from_agency: str, code: str, to_agency: str) -> str:
        """``to_agency``'s code for the person ``from_agency`` knows by ``code``."""
        ...


@dataclass(frozen=True)
class Payment:
    """A payment asked of a person."""

    payment_id: str
    agency_id: str
    purpose: str
    amount: int
    due_on: dt.date
    payee_number: str
    customer_number: str
    confirmation_number: str
    status: str
    created_at: dt.datetime
    paid_at: dt.datetime | None
    receipt_number: str | None

    @property
    def open(self) -> bool:
        """Whether it can still be paid."""
        return self.status == "pending"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _payment(row: RowMapping) -> Payment:
    return Payment(
        payment_id=row["payment_id"],
        agency_id=row["agency_id"],
        purpose=row["purpose"],
        amount=row["amount"],
        due_on=row["due_on"],
        payee_number=row["payee_number"],
        customer_number=row["customer_number"],
        confirmation_number=row["confirmation_number"],
        status=row["status"],
        created_at=_aware(row["created_at"]) or dt.datetime.min.replace(tzinfo=dt.UTC),
        paid_at=_aware(row["paid_at"]),
        receipt_number=row["receipt_number"],
    )


def payee_number(agency_id: str) -> str:
    """A 5-digit 収納機関番号 for an agency.

    Real ones are assigned by the Multi-Payment Network (MPN) to each collecting body; this
    installation has none assigned, so it derives a stable one from the agency id.
    """
    return f"{int(hashlib.sha256(agency_id.encode()).hexdigest(), 16) % 90000 + 10000:05d}"


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


class Payments:
    """The portal's payments, on its ``portal_payments`` store."""

    def __init__(
        self, store: Store, clock: Clock, *, provider: PaymentProvider, codes: CodeTranslator
    ) -> None:
        self.store = store
        self.clock = clock
        self.provider = provider
        self.codes = codes

    # --- agencies -----------------------------------------------------------------------------

    def request(
        self,
        agency_id: str,
        code: str,
        *,
        purpose: str,
        amount: int,
        due_on: dt.date,
        agency_key: str,
    ) -> Payment:
        """An agency asks the person it knows by ``code`` to pay; the payment (made once)."""
        purpose = purpose.strip()
        if not 1 <= len(purpose) <= 120:
            raise InvalidInput("a purpose is 1-120 characters")
        if not 1 <= amount <= MAX_AMOUNT:
            raise InvalidInput(f"an amount is 1-{MAX_AMOUNT:,} yen")
        if not 1 <= len(agency_key) <= 64:
            raise InvalidInput("an agency key is 1-64 characters")
        portal_code = self.codes.translate(agency_id, code, PORTAL_AGENCY)
        with self.store.transaction() as s:
            row = self._by_key(s, agency_id, agency_key)
            if row is None:
                payment_id = secrets.token_hex(16)
                s.execute(
                    insert(payments).values(
                        payment_id=payment_id,
                        portal_code=portal_code,
                        agency_id=agency_id,
                        agency_key=agency_key,
                        purpose=purpose,
                        amount=amount,
                        due_on=due_on,
                        payee_number=payee_number(agency_id),
                        customer_number=_digits(16),
                        confirmation_number=_digits(6),
                        status="pending",
                        created_at=self.clock.now(),
                    )
                )
                self._log(s, payment_id, "requested", f"{agency_id}: {amount} yen")
                row = self._by_key(s, agency_id, agency_key)
            assert row is not None
            return _payment(row)

    @staticmethod
    def _by_key(s: Session, agency_id: str, agency_key: str) -> RowMapping | None:
        return (
            s.execute(
                select(payments).where(
                    payments.c.agency_id == agency_id, payments.c.agency_key == agency_key
                )
            )
            .mappings()
            .first()
        )

    # --- the person ---------------------------------------------------------------------------

    def of_person(self, portal_code: str, *, limit: int = 100) -> list[Payment]:
        """The person's payments: open ones first (by due date), then the paid, newest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(payments)
                .where(payments.c.portal_code == portal_code)
                .order_by(payments.c.status != "pending", payments.c.due_on, payments.c.created_at)
                .limit(limit)
            ).mappings()
            return [_payment(r) for r in rows]

    def open_count(self, portal_code: str) -> int:
        """How many of the person's payments are still to pay."""
        with self.store.transaction() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(payments)
                    .where(payments.c.portal_code == portal_code, payments.c.status == "pending")
                )
                or 0
            )

    def get(self, portal_code: str, payment_id: str) -> Payment:
        """One of the person's payments (``PAYMENT_NOT_FOUND`` for anyone else's)."""
        with self.store.transaction() as s:
            row = self._row(s, portal_code, payment_id)
        return _payment(row)

    @staticmethod
    def _row(s: Session, portal_code: str, payment_id: str) -> RowMapping:
        row = (
            s.execute(
                select(payments).where(
                    payments.c.payment_id == payment_id, payments.c.portal_code == portal_code
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise PaymentNotFound("no such payment")
        return row

    def start(
        self,
        portal_code: str,
        payment_id: str,
        *,
        attempt_id: str,
        method: PaymentMethod,
        return_url: str,
    ) -> str:
        """Begin paying; the provider's checkout URL (the same for a repeated attempt id)."""
        if not (16 <= len(attempt_id) <= 32 and attempt_id.isalnum()):
            raise InvalidInput("the form's attempt id is malformed: reload the page")
        with self.store.transaction() as s:
            row = self._row(s, portal_code, payment_id)
            if row["status"] != "pending":
                raise PaymentClosed("this payment is closed", status=row["status"])
            known = (
                s.execute(
                    select(payment_attempts).where(payment_attempts.c.attempt_id == attempt_id)
                )
                .mappings()
                .first()
            )
            if known is not None and known["payment_id"] != payment_id:
                raise InvalidInput("the form's attempt id belongs to another payment")
        payment = _payment(row)
        if known is not None and known["provider_ref"]:
            return f"/payment-provider/checkout/{known['provider_ref']}"
        url = self.provider.begin(
            Checkout(
                attempt_id=attempt_id,
                payment_id=payment_id,
                amount=payment.amount,
                payee=payment.agency_id,
                purpose=payment.purpose,
                method=method,
                return_url=return_url,
            )
        )
        ref = url.rsplit("/", 1)[-1]
        with self.store.transaction() as s:
            s.execute(
                insert(payment_attempts).values(
                    attempt_id=attempt_id,
                    payment_id=payment_id,
                    method=method.value,
                    provider_ref=ref,
                    status="started",
                    created_at=self.clock.now(),
                )
            )
            self._log(s, payment_id, "started", f"{method.value} via {self.provider.name}")
        return url

    def complete(
        self, portal_code: str, provider_ref: str, outcome: str, signature: str
    ) -> Payment:
        """The provider sent the person back: check, ask the provider, record; the payment."""
        if not self.provider.verify_return(provider_ref, outcome, signature):
            raise PaymentReturnRefused("the payment company's answer is not signed by it")
        with self.store.transaction() as s:
            attempt = (
                s.execute(
                    select(payment_attempts).where(payment_attempts.c.provider_ref == provider_ref)
                )
                .mappings()
                .first()
            )
            if attempt is None:
                raise PaymentReturnRefused("the payment company names no attempt of this portal")
            self._row(s, portal_code, attempt["payment_id"])  # the person's own payment only
        charge = self.provider.charge(provider_ref)  # server to server: the provider's word
        now = self.clock.now()
        with self.store.transaction() as s:
            row = self._row(s, portal_code, attempt["payment_id"])
            if charge.status is ChargeStatus.SUCCEEDED and charge.amount == row["amount"]:
                if row["status"] == "pending":
                    s.execute(
                        update(payments)
                        .where(
                            payments.c.payment_id == row["payment_id"],
                            payments.c.status == "pending",
                        )
                        .values(
                            status="paid",
                            paid_at=charge.at or now,
                            paid_by_attempt=attempt["attempt_id"],
                            receipt_number=self._receipt_number(now),
                        )
                    )
                    self._log(
                        s, row["payment_id"], "paid", f"{charge.method.value} {charge.provider_ref}"
                    )
                    status = "succeeded"
                else:
                    status = "duplicate"
            elif charge.status is ChargeStatus.DECLINED:
                status = "declined"
                self._log(s, row["payment_id"], "declined", charge.method.value)
            else:
                status = "started"
            s.execute(
                update(payment_attempts)
                .where(payment_attempts.c.attempt_id == attempt["attempt_id"])
                .values(status=status, completed_at=now if status != "started" else None)
            )
            return _payment(self._row(s, portal_code, attempt["payment_id"]))

    @staticmethod
    def _receipt_number(now: dt.datetime) -> str:
        return f"R{now:%Y%m%d}-{secrets.token_hex(4).upper()}"

    def _log(self, s: Session, payment_id: str, action: str, detail: str) -> None:
        s.execute(
            insert(payment_log).values(
                payment_id=payment_id,
                recorded_at=self.clock.now(),
                action=action,
                detail=detail[:200],
            )
        )

    def attempts(self, portal_code: str, payment_id: str) -> list[tuple[str, str]]:
        """The attempts at one of the person's payments: (method, status), oldest first."""
        with self.store.transaction() as s:
            self._row(s, portal_code, payment_id)
            rows = s.execute(
                select(payment_attempts.c.method, payment_attempts.c.status)
                .where(payment_attempts.c.payment_id == payment_id)
                .order_by(payment_attempts.c.created_at)
            ).all()
        return [(r[0], r[1]) for r in rows]
