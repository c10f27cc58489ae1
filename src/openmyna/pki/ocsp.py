"""The OCSP responder (RFC 6960): pre-signed responses, refreshed, never bound by RSA signing.

Each CA answers through its delegated responder certificate. A signed response per
(CA, CertID hash algorithm, serial) is kept in memory and served as is until it is
``ocsp_refresh`` old (nextUpdate is ``ocsp_validity`` after thisUpdate, well after that), or
until the certificate's status changes: every change is a row in the issuer's revocation log,
and the responder re-signs the changed serials as soon as it sees the row (at once for changes
made through the same ``Jpki``; within ``poll_interval`` for changes made by another process).

Nonces are not echoed: a pre-signed response cannot contain the client's nonce, and RFC 5019
(and RFC 8954 §2.1) let a responder leave it out. ``openssl ocsp`` sends a nonce by default,
notes "WARNING: no nonce in response" and accepts the response.

Requests naming an unknown issuer get ``unauthorized``; bytes that are not one well-formed
OCSP request (including requests for several certificates, which the RFC 5019 profile rules
out) get ``malformedRequest``; a database that does not answer gives ``tryLater``. Never an
exception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.pki.ca import OCSP_HASHES, CertificateAuthority
from openmyna.pki.profiles import SIGNATURE_HASH, CertKind, whole_seconds
from openmyna.pki.records import CertRecord, CertStatus, LogEntry, RevocationReason

log = logging.getLogger(__name__)

#: The largest request body accepted (a single-certificate request is about 100 bytes).
MAX_REQUEST_BYTES = 8192


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


MALFORMED_REQUEST = _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
UNAUTHORIZED = _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
TRY_LATER = _unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
INTERNAL_ERROR = _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

_Key = tuple[CertKind, str, int]  # (CA, CertID hash algorithm name, serial)


@dataclasses.dataclass(frozen=True)
class SignedResponse:
    """A signed, DER-encoded OCSP response and when it should be signed again."""

    der: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    refresh_at: dt.datetime


class OcspResponder:
    """Answers OCSP requests for both JPKI CAs from a cache of pre-signed responses."""

    def __init__(
        self,
        authorities: Mapping[CertKind, CertificateAuthority],
        lookup: Callable[[int], CertRecord | None],
        changes: Callable[[int], list[LogEntry]],
        clock: Clock,
        *,
        validity: dt.timedelta,
        refresh: dt.timedelta,
        poll_interval: float,
        max_entries: int,
        cursor: int = 0,
    ) -> None:
        self._cas = dict(authorities)
        self._lookup = lookup
        self._changes = changes
        self._clock = clock
        self._validity = validity
        self._refresh = min(refresh, validity)
        self._poll_interval = poll_interval
        self._max_entries = max(1, max_entries)
        self._cursor = cursor
        self._cache: dict[_Key, SignedResponse] = {}
        self._epoch = 0  # incremented by every invalidation
        # request DER -> what it asks; saves parsing identical (nonce-less) requests
        self._requests: dict[bytes, tuple[_Key, CertificateAuthority]] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._last_poll = time.monotonic()
        # (hash name, issuerNameHash, issuerKeyHash) -> CA
        self._issuers: dict[tuple[str, bytes, bytes], CertificateAuthority] = {
            (alg, name_hash, key_hash): ca
            for ca in self._cas.values()
            for alg, (name_hash, key_hash) in ca.hashes.items()
        }
        self.signed = 0  # how many responses this responder signed (for tests and stats)

    # --- answering ----------------------------------------------------------------------------

    def _parse(self, request_der: bytes) -> tuple[_Key, CertificateAuthority] | bytes:
        """The cache key and CA a request asks about, or the error response to send."""
        known = self._requests.get(request_der)
        if known is not None:  # the same bytes again (a request without a nonce)
            return known
        parsed = self._parse_new(request_der)
        if not isinstance(parsed, bytes):
            if len(self._requests) >= self._max_entries:
                self._requests.clear()
            self._requests[request_der] = parsed
        return parsed

    def _parse_new(self, request_der: bytes) -> tuple[_Key, CertificateAuthority] | bytes:
        if not request_der or len(request_der) > MAX_REQUEST_BYTES:
            return MALFORMED_REQUEST
        try:
            req = ocsp.load_der_ocsp_request(request_der)
            alg = req.hash_algorithm.name
            name_hash, key_hash, serial = (
                req.issuer_name_hash,
                req.issuer_key_hash,
                req.serial_number,
            )
        except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
            return MALFORMED_REQUEST
        ca = self._issuers.get((alg, name_hash, key_hash))
        if ca is None:
            return UNAUTHORIZED
        return (ca.kind, alg, serial), ca

    def cached(self, request_der: bytes) -> bytes | None:
        """The response if it can be sent without signing or a database read, else None."""
        parsed = self._parse(request_der)
        if isinstance(parsed, bytes):
            return parsed
        hit = self._cache.get(parsed[0])
        if hit is not None and self._clock.now() < hit.refresh_at:
            return hit.der
        return None

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request (signing it if it is not cached)."""
        parsed = self._parse(request_der)
        if isinstance(parsed, bytes):
            return parsed
        key, ca = parsed
        hit = self._cache.get(key)
        if hit is not None and self._clock.now() < hit.refresh_at:
            return hit.der
        try:
            return self._sign(key, ca).der
        except OpenMynaError as exc:
            log.warning("OCSP status lookup failed: %s", exc.code)
            return TRY_LATER

    def _sign(self, key: _Key, ca: CertificateAuthority) -> SignedResponse:
        kind, alg_name, serial = key
        # A status change invalidating the cache while this response is being made must not
        # be overwritten by it: the response is cached only if no invalidation happened since.
        epoch = self._epoch
        record = self._lookup(serial)
        now = whole_seconds(self._clock.now())
        revocation_time: dt.datetime | None = None
        reason = None
        if record is None or record.kind is not kind:
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif record.status is CertStatus.GOOD:
            status = ocsp.OCSPCertStatus.GOOD
        else:
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = whole_seconds(record.revoked_at or now)
            if record.status is CertStatus.SUSPENDED:
                reason = RevocationReason.CERTIFICATE_HOLD.flag()
            elif record.reason is not None and record.reason is not RevocationReason.UNSPECIFIED:
                reason = record.reason.flag()
        name_hash, key_hash = ca.hashes[alg_name]
        algorithm = next(a for a in OCSP_HASHES if a.name == alg_name)
        next_update = now + self._validity
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                name_hash,
                key_hash,
                serial,
                algorithm,
                status,
                now,
                next_update,
                revocation_time,
                reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.responder_cert)
            .certificates([ca.responder_cert])
            .sign(ca.responder_key, SIGNATURE_HASH)
        )
        signed = SignedResponse(
            der=response.public_bytes(serialization.Encoding.DER),
            this_update=now,
            next_update=next_update,
            refresh_at=now + self._refresh,
        )
        with self._lock:
            self.signed += 1
            if epoch != self._epoch:
                return signed  # answer this request with it, but do not keep it
            if key not in self._cache and len(self._cache) >= self._max_entries:
                self._cache.pop(next(iter(self._cache)))  # oldest first
            self._cache[key] = signed
        return signed

    # --- keeping the cache fresh ----------------------------------------------------------------

    def presign(self, serials: Iterable[tuple[CertKind, int]], algorithm: str = "sha1") -> int:
        """Sign responses ahead of requests (default: the SHA-1 CertID openssl sends)."""
        n = 0
        for kind, serial in serials:
            ca = self._cas[kind]
            self._sign((kind, algorithm, serial), ca)
            n += 1
        return n

    def invalidate(self, serial: int) -> list[_Key]:
        """Forget the cached responses about ``serial``; the keys that were cached."""
        dropped = []
        with self._lock:
            self._epoch += 1
            for kind in self._cas:
                for alg in OCSP_HASHES:
                    key = (kind, alg.name, serial)
                    if self._cache.pop(key, None) is not None:
                        dropped.append(key)
        return dropped

    def poll_due(self) -> bool:
        """Whether it is time to look for status changes made by another process."""
        return time.monotonic() - self._last_poll >= self._poll_interval

    def poll(self) -> int:
        """Apply revocation-log rows written since the last poll; how many serials changed.

        A changed serial's cached responses are dropped and signed again at once.
        """
        with self._poll_lock:
            self._last_poll = time.monotonic()
            entries = self._changes(self._cursor)
            changed: dict[int, CertKind] = {}
            for entry in entries:
                changed[entry.serial] = entry.kind
                self._cursor = max(self._cursor, entry.id)
        for serial, kind in changed.items():
            keys = self.invalidate(serial) or [(kind, "sha1", serial)]
            for key in keys:
                self._sign(key, self._cas[key[0]])
        return len(changed)

    def refresh_due(self) -> int:
        """Sign again every cached response whose refresh time has come; how many."""
        now = self._clock.now()
        due = [key for key, value in list(self._cache.items()) if value.refresh_at <= now]
        for key in due:
            self._sign(key, self._cas[key[0]])
        return len(due)

    def cache_size(self) -> int:
        """How many signed responses are cached."""
        return len(self._cache)

    @property
    def algorithms(self) -> tuple[hashes.HashAlgorithm, ...]:
        """The CertID hash algorithms this responder understands."""
        return OCSP_HASHES
