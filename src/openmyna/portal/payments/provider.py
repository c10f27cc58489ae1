"""The payment-provider interface, and the simulated provider of the demo.

公金決済 in the real portal hands the payment to a payment company: a card payment or Pay-easy
(ペイジー) through internet banking, started from a notice (「マイナポータルのお知らせを使い、
ネットバンキング(ペイジー)やクレジットカード決済」, the portal's service list). The portal never
sees a card number: it sends the person to the provider's checkout with the amount and an
idempotency key, and learns the outcome from the provider itself.

``PaymentProvider`` is what the portal needs of any provider. ``SimulatedProvider`` is one in
this process, with its own checkout pages under ``/payment-provider/`` (clearly a third party's
pages, not the portal's): it charges each payment at most once whatever the number of attempts
(its idempotency key is the payment id), declines the test card numbers ending in ``0002``,
signs what it sends back (HMAC-SHA256 over the reference and the outcome) and answers the
portal's server-side status query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlencode

from openmyna.clock import Clock
from openmyna.errors import InvalidInput, NotFound


class PaymentMethod(StrEnum):
    """How the person pays."""

    CARD = "card"  # クレジットカード
    PAYEASY = "payeasy"  # ペイジー (ネットバンキング)


class ChargeStatus(StrEnum):
    """The provider's word on a charge."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"


@dataclass(frozen=True)
class Checkout:
    """What the portal asks the provider to collect."""

    attempt_id: str
    payment_id: str
    amount: int
    payee: str
    purpose: str
    method: PaymentMethod
    return_url: str


@dataclass(frozen=True)
class Charge:
    """The provider's record of one payment."""

    provider_ref: str
    payment_id: str
    amount: int
    status: ChargeStatus
    method: PaymentMethod
    at: dt.datetime | None


class PaymentProvider(Protocol):
    """What the portal needs of a payment company."""

    name: str

    def begin(self, checkout: Checkout) -> str:
        """Register a checkout; the URL to send the person's browser to."""
        ...

    def verify_return(self, provider_ref: str, outcome: str, signature: str) -> bool:
        """Whether a return to the portal was signed by the provider."""
        ...

    def charge(self, provider_ref: str) -> Charge:
        """The provider's record, asked server to server (``NOT_FOUND`` if unknown)."""
        ...


class ProviderRefNotFound(NotFound):
    """The provider knows no such checkout."""

    code = "PAYMENT_PROVIDER_REF_NOT_FOUND"


#: Test card numbers ending in this are declined (as payment companies' test cards are).
DECLINED_SUFFIX = "0002"


class SimulatedProvider:
    """A payment company in this process (the demo's): checkouts, at most one charge each."""

    name = "simulated"

    def __init__(self, clock: Clock, secret: bytes | None = None) -> None:
        self.clock = clock
        self._secret = secret or secrets.token_bytes(32)
        self._checkouts: dict[str, Checkout] = {}
        self._charges: dict[str, Charge] = {}  # by payment id: one charge per payment
        self._by_ref: dict[str, str] = {}  # provider ref -> payment id
        self._lock = threading.Lock()

    def begin(self, checkout: Checkout) -> str:
        """A checkout for one attempt; the provider's page for it."""
        ref = secrets.token_hex(16)
        with self._lock:
            self._checkouts[ref] = checkout
            self._by_ref[ref] = checkout.payment_id
        return f"/payment-provider/checkout/{ref}"

    def checkout(self, provider_ref: str) -> Checkout:
        """A registered checkout (``PAYMENT_PROVIDER_REF_NOT_FOUND`` if none)."""
        with self._lock:
            found = self._checkouts.get(provider_ref)
        if found is None:
            raise ProviderRefNotFound("no such checkout at the payment company")
        return found

    def pay(self, provider_ref: str, *, card_number: str | None = None) -> tuple[str, Charge]:
        """The person confirms on the provider's page; the return URL and the charge.

        A payment already charged is not charged again: the existing charge comes back.
        """
        checkout = self.checkout(provider_ref)
        if checkout.method is PaymentMethod.CARD:
            digits = (card_number or "").replace(" ", "").replace("-", "")
            if not (digits.isdigit() and 14 <= len(digits) <= 19):
                raise InvalidInput("a card number is 14-19 digits")
            status = (
                ChargeStatus.DECLINED
                if digits.endswith(DECLINED_SUFFIX)
                else ChargeStatus.SUCCEEDED
            )
        else:
            status = ChargeStatus.SUCCEEDED
        with self._lock:
            existing = self._charges.get(checkout.payment_id)
            if existing is not None and existing.status is ChargeStatus.SUCCEEDED:
                charge = existing
            else:
                charge = Charge(
                    provider_ref,
                    checkout.payment_id,
                    checkout.amount,
                    status,
                    checkout.method,
                    self.clock.now(),
                )
                self._charges[checkout.payment_id] = charge
        outcome = charge.status.value
        query = urlencode(
            {"ref": provider_ref, "outcome": outcome, "sig": self._sign(provider_ref, outcome)}
        )
        return f"{checkout.return_url}?{query}", charge

    def _sign(self, provider_ref: str, outcome: str) -> str:
        return hmac.new(
            self._secret, f"{provider_ref}\n{outcome}".encode("ascii"), hashlib.sha256
        ).hexdigest()

    def verify_return(self, provider_ref: str, outcome: str, signature: str) -> bool:
        """Whether the return's signature is the provider's."""
        try:
            expected = self._sign(provider_ref, outcome)
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(expected, signature)

    def charge(self, provider_ref: str) -> Charge:
        """The charge behind a checkout, as the provider records it."""
        with self._lock:
            payment_id = self._by_ref.get(provider_ref)
            charge = None if payment_id is None else self._charges.get(payment_id)
            checkout = self._checkouts.get(provider_ref)
        if checkout is None:
            raise ProviderRefNotFound("no such checkout at the payment company")
        if charge is None:
            return Charge(
                provider_ref,
                checkout.payment_id,
                checkout.amount,
                ChargeStatus.PENDING,
                checkout.method,
                None,
            )
        return charge
