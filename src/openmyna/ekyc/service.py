"""The platform operator (プラットフォーム事業者) for businesses that verify customers with JPKI.

A business (a bank, a phone company) registered by the operator sends what its customer
signed with the signature certificate (署名用電子証明書) of their My Number Card; the
operator checks the certificate — chain, validity, policy, key usage — and its status by
OCSP at the time of use, checks the signature, reads the 4 items from the certificate, and
answers. That is the online method of 犯収法施行規則 第6条第1項第1号ワ (docs/identity.md,
"eKYC"). Every query is recorded in the business's append-only audit log (without the 4
items) and counted on its bill.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from cryptography import x509
from sqlalchemy import RowMapping, case, func, insert, select, update

from openmyna.clock import JST, Clock
from openmyna.ekyc.errors import (
    ApiKeyNotFound,
    BadApiKey,
    BadRequestData,
    BusinessNotFound,
    BusinessSuspended,
)
from openmyna.ekyc.tables import api_keys, audit_log, businesses
from openmyna.errors import Conflict, InvalidInput
from openmyna.pki import CertKind, SignCertItems, VerificationFailed, Verifier
from openmyna.pki.cms import MAX_CMS_BYTES, parse_detached
from openmyna.pki.errors import CertRevoked, CertSuspended, StatusUnknown
from openmyna.store import Store

log = logging.getLogger(__name__)

#: The largest data a customer signs that the API takes (a challenge, a short contract).
MAX_DATA_BYTES = 64 * 1024
#: A JPKI certificate is about 1.5 KB.
MAX_CERT_BYTES = 8 * 1024
#: An RSA-2048 signature is 256 bytes.
SIGNATURE_BYTES = 256
#: What a query costs when the operator names no price (yen); see docs/identity.md.
DEFAULT_PRICE_YEN = 20
KEY_PREFIX = "ekyc"
_KEY = re.compile(r"^ekyc_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
OPERATOR = "operator"
ACCEPTED = "accepted"
_BILLED_REFUSALS = (CertRevoked, CertSuspended)


class BusinessStatus:
    """A business's contract state."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclasses.dataclass(frozen=True)
class Business:
    """A business (署名検証者 entrusting the check to the platform operator)."""

    business_id: str
    name: str
    contact: str
    price_yen: int
    status: str
    created_at: dt.datetime
    status_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class IssuedKey:
    """An API key as issued: the whole key is shown once and never stored."""

    key_id: str
    business_id: str
    key: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Caller:
    """The business a request was authenticated as, and by which key."""

    business: Business
    key_id: str


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One row of a business's audit log (no personal data)."""

    entry_id: int
    business_id: str
    recorded_at: dt.datetime
    action: str
    result: str
    actor: str
    cert_serial: str | None
    cert_kind: str | None
    data_sha256: str | None
    cert_status: str | None
    status_source: str | None
    billed: bool
    price_yen: int


@dataclasses.dataclass(frozen=True)
class BillLine:
    """One business's bill for one month (JST): billed queries and their amount."""

    business_id: str
    name: str
    month: str
    queries: int
    billed: int
    amount_yen: int


@dataclasses.dataclass(frozen=True)
class Verification:
    """An accepted customer signature: the certificate, its status now, and the 4 items."""

    reference: str
    checked_at: dt.datetime
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    status: str
    status_source: str
    data_sha256: str
    signing_time: dt.datetime | None
    items: SignCertItems = dataclasses.field(repr=False)
    certificate_der: bytes = dataclasses.field(repr=False)


def _business(row: RowMapping) -> Business:
    return Business(
        business_id=row["business_id"],
        name=row["name"],
        contact=row["contact"],
        price_yen=int(row["price_yen"]),
        status=row["status"],
        created_at=_utc(row["created_at"]),
        status_at=_utc(row["status_at"]),
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _entry(row: RowMapping) -> AuditEntry:
    values = dict(row)
    values["recorded_at"] = _utc(values["recorded_at"])
    values["billed"] = bool(values["billed"])
    return AuditEntry(**values)


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC bounds [start, end) of a calendar month in Japan time, given as ``YYYY-MM``."""
    found = _MONTH.match(month)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise InvalidInput("the month is YYYY-MM", month=month[:16])
    year, number = int(found.group(1)), int(found.group(2))
    start = dt.datetime(year, number, 1, tzinfo=JST)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=JST)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _clean_text(value: str, what: str, limit: int = 200) -> str:
    text = value.strip()
    if not text or len(text) > limit or any(ord(c) < 0x20 for c in text):
        raise InvalidInput(f"the {what} must be 1-{limit} printable characters")
    return text


class EkycPlatform:
    """Businesses, their keys, the customer-signature check, the audit log and the bill."""

    def __init__(self, store: Store, clock: Clock, verifier: Verifier) -> None:
        self.store = store
        self.clock = clock
        self._verifier = verifier

    # --- the operator's side ------------------------------------------------------------

    def add_business(
        self, name: str, contact: str, *, price_yen: int = DEFAULT_PRICE_YEN
    ) -> tuple[Business, IssuedKey]:
        """Register a business (the operator's contract) with its first API key."""
        if not 0 <= price_yen <= 100_000:
            raise InvalidInput("the price per query is 0-100000 yen")
        now = self.clock.now()
        business_id = "biz_" + secrets.token_hex(6)
        with self.store.connection() as conn:
            conn.execute(
                insert(businesses).values(
                    business_id=business_id,
                    name=_clean_text(name, "name"),
                    contact=_clean_text(contact, "contact"),
                    price_yen=price_yen,
                    status=BusinessStatus.ACTIVE,
                    created_at=now,
                    status_at=now,
                )
            )
            self._record(conn, business_id, "business.add", ACCEPTED, OPERATOR)
            key = self._new_key(conn, business_id)
        return self.business(business_id), key

    def businesses(self) -> list[Business]:
        """Every registered business, oldest first."""
        with self.store.connection() as conn:
            rows = conn.execute(select(businesses).order_by(businesses.c.created_at)).mappings()
            return [_business(r) for r in rows]

    def business(self, business_id: str) -> Business:
        """One business (``EKYC_BUSINESS_NOT_FOUND``)."""
        with self.store.connection() as conn:
            row = (
                conn.execute(select(businesses).where(businesses.c.business_id == business_id))
                .mappings()
                .first()
            )
        if row is None:
            raise BusinessNotFound("no such business", business_id=business_id[:24])
        return _business(row)

    def _set_status(self, business_id: str, status: str, action: str) -> Business:
        current = self.business(business_id)
        if current.status == status:
            raise Conflict(f"the business is {status} already", business_id=business_id)
        with self.store.connection() as conn:
            conn.execute(
                update(businesses)
                .where(businesses.c.business_id == business_id)
                .values(status=status, status_at=self.clock.now())
            )
            self._record(conn, business_id, action, ACCEPTED, OPERATOR)
        return self.business(business_id)

    def suspend(self, business_id: str) -> Business:
        """Suspend a business: its queries are refused (``EKYC_BUSINESS_SUSPENDED``)."""
        return self._set_status(business_id, BusinessStatus.SUSPENDED, "business.suspend")

    def resume(self, business_id: str) -> Business:
        """Let a suspended business query again."""
        return self._set_status(business_id, BusinessStatus.ACTIVE, "business.resume")

    def add_key(self, business_id: str) -> IssuedKey:
        """A new API key for a business (its other keys keep working)."""
        self.business(business_id)
        with self.store.connection() as conn:
            return self._new_key(conn, business_id)

    def revoke_key(self, key_id: str) -> None:
        """Revoke an API key at once."""
        with self.store.connection() as conn:
            row = (
                conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
            )
            if row is None:
                raise ApiKeyNotFound("no such API key", key_id=key_id[:24])
            if row["revoked_at"] is not None:
                raise Conflict("the API key is revoked already", key_id=key_id)
            conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id)
                .values(revoked_at=self.clock.now())
            )
            self._record(conn, row["business_id"], "key.revoke", ACCEPTED, OPERATOR)

    def _new_key(self, conn: Any, business_id: str) -> IssuedKey:
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                business_id=business_id,
                secret_sha256=hashlib.sha256(secret.encode("ascii")).hexdigest(),
                created_at=self.clock.now(),
            )
        )
        self._record(conn, business_id, "key.add", ACCEPTED, OPERATOR)
        return IssuedKey(key_id, business_id, f"{KEY_PREFIX}_{key_id}_{secret}")

    # --- a business's request -----------------------------------------------------------

    def authenticate(self, presented: str | None) -> Caller:
        """The business an API key belongs to (``EKYC_BAD_API_KEY``, or suspended)."""
        found = _KEY.match(presented or "")
        if found is None:
            raise BadApiKey("an API key is required: Authorization: Bearer ekyc_…")
        key_id, secret = found.groups()
        digest = hashlib.sha256(secret.encode("ascii")).hexdigest()
        with self.store.connection() as conn:
            row = (
                conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
            )
        # Compared in constant time; an unknown key id is compared against a dummy.
        expected = row["secret_sha256"] if row is not None else "0" * 64
        if not hmac.compare_digest(digest, expected) or row is None or row["revoked_at"]:
            raise BadApiKey("the API key is not valid")
        business = self.business(row["business_id"])
        if business.status != BusinessStatus.ACTIVE:
            with self.store.connection() as conn:
                self._record(conn, business.business_id, "verify", BusinessSuspended.code, key_id)
            raise BusinessSuspended(
                "the business's use of the platform is suspended", business_id=business.business_id
            )
        return Caller(business, key_id)

    def verify_cms(self, caller: Caller, cms: bytes, content: bytes) -> Verification:
        """Check a detached CMS SignedData over ``content`` by a signature certificate."""
        _limit(content, MAX_DATA_BYTES, "signed data")
        _limit(cms, MAX_CMS_BYTES, "CMS signature")
        data_sha256 = hashlib.sha256(content).hexdigest()
        serial: int | None = None

        def check() -> tuple[Any, dt.datetime | None, bytes]:
            nonlocal serial
            parsed = parse_detached(cms)
            serial = parsed.serial
            parsed.check_content(content)
            result = self._verifier.verify_signature(
                parsed.certificate_der, parsed.signed_attributes, parsed.signature
            )
            return result, parsed.signing_time, parsed.certificate_der

        return self._checked(caller, data_sha256, check, lambda: serial)

    def verify_raw(
        self, caller: Caller, certificate: bytes, data: bytes, signature: bytes
    ) -> Verification:
        """Check a PKCS#1 v1.5 / SHA-256 signature over ``data`` by a signature certificate."""
        _limit(data, MAX_DATA_BYTES, "signed data")
        _limit(certificate, MAX_CERT_BYTES, "certificate")
        if len(signature) != SIGNATURE_BYTES:
            raise BadRequestData("the signature must be 256 bytes (RSA-2048)")
        data_sha256 = hashlib.sha256(data).hexdigest()
        serial: int | None = None
        try:
            serial = x509.load_der_x509_certificate(certificate).serial_number
        except ValueError:
            serial = None  # the verifier names it CERT_MALFORMED (recorded as such)

        def check() -> tuple[Any, dt.datetime | None, bytes]:
            return self._verifier.verify_signature(certificate, data, signature), None, certificate

        return self._checked(caller, data_sha256, check, lambda: serial)

    def _checked(
        self,
        caller: Caller,
        data_sha256: str,
        check: Callable[[], tuple[Any, dt.datetime | None, bytes]],
        serial: Callable[[], int | None],
    ) -> Verification:
        business = caller.business
        now = self.clock.now()
        try:
            result, signing_time, certificate_der = check()
        except VerificationFailed as refused:
            state = _refused_state(refused)
            billed = isinstance(refused, _BILLED_REFUSALS)
            found = serial()
            with self.store.connection() as conn:
                self._record(
                    conn,
                    business.business_id,
                    "verify",
                    refused.code,
                    caller.key_id,
                    cert_serial=None if found is None else f"{found:x}",
                    cert_kind=None,
                    data_sha256=data_sha256,
                    cert_status=state,
                    status_source="ocsp" if state in ("revoked", "suspended") else None,
                    billed=billed,
                    price_yen=business.price_yen if billed else 0,
                )
            raise
        cert = x509.load_der_x509_certificate(certificate_der)
        with self.store.connection() as conn:
            entry_id = self._record(
                conn,
                business.business_id,
                "verify",
                ACCEPTED,
                caller.key_id,
                cert_serial=f"{result.serial:x}",
                cert_kind=CertKind.SIGN.value,
                data_sha256=data_sha256,
                cert_status="good",
                status_source=result.status_source,
                billed=True,
                price_yen=business.price_yen,
            )
        return Verification(
            reference=f"ekyc-{entry_id}",
            checked_at=now,
            serial=result.serial,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            status="good",
            status_source=result.status_source or "none",
            data_sha256=data_sha256,
            signing_time=signing_time,
            items=result.items,
            certificate_der=certificate_der,
        )

    # --- the records --------------------------------------------------------------------

    def _record(
        self,
        conn: Any,
        business_id: str,
        action: str,
        result: str,
        actor: str,
        *,
        billed: bool = False,
        price_yen: int = 0,
        **checked: str | None,
    ) -> int:
        done = conn.execute(
            insert(audit_log).values(
                business_id=business_id,
                recorded_at=self.clock.now(),
                action=action,
                result=result,
                actor=actor,
                billed=billed,
                price_yen=price_yen,
                **checked,
            )
        )
        return int(done.inserted_primary_key[0])

    def audit(self, business_id: str, *, limit: int = 100) -> list[AuditEntry]:
        """A business's audit log, newest first (at most ``limit`` entries)."""
        self.business(business_id)
        if not 1 <= limit <= 1000:
            raise InvalidInput("the limit is 1-1000")
        with self.store.connection() as conn:
            rows = conn.execute(
                select(audit_log)
                .where(audit_log.c.business_id == business_id)
                .order_by(audit_log.c.entry_id.desc())
                .limit(limit)
            ).mappings()
            return [_entry(r) for r in rows]

    def bill(self, month: str, business_id: str | None = None) -> list[BillLine]:
        """Each business's queries and billed amount in ``month`` (``YYYY-MM``, Japan time)."""
        start, end = month_range(month)
        known = self.businesses() if business_id is None else [self.business(business_id)]
        lines = []
        with self.store.connection() as conn:
            for b in known:
                queries, billed, amount = conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(case((audit_log.c.billed, 1), else_=0)), 0),
                        func.coalesce(func.sum(audit_log.c.price_yen), 0),
                    ).where(
                        audit_log.c.business_id == b.business_id,
                        audit_log.c.action == "verify",
                        audit_log.c.recorded_at >= start,
                        audit_log.c.recorded_at < end,
                    )
                ).one()
                lines.append(
                    BillLine(b.business_id, b.name, month, int(queries), int(billed), int(amount))
                )
        return lines

    def close(self) -> None:
        """Close the operator's database."""
        self.store.close()


def _limit(value: bytes, limit: int, what: str) -> None:
    if not value:
        raise BadRequestData(f"the {what} is empty")
    if len(value) > limit:
        raise BadRequestData(f"the {what} is too large", limit=limit)


def _refused_state(refused: VerificationFailed) -> str | None:
    if isinstance(refused, CertRevoked):
        return "revoked"
    if isinstance(refused, CertSuspended):
        return "suspended"
    if isinstance(refused, StatusUnknown):
        return "unknown"
    return None
