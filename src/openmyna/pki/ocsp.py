"""The OCSP responder (RFC 6960): pre-signed responses, refreshed, never bound by RSA signing.

Each CA answers through its delegated responder certificate. What an answer says depends only
on the CA, the CertID hash algorithm and the serial (nonces are not echoed), so that is what
responses are cached by — never the request's bytes — in three bounded caches:

- **certificates**: the pre-signed response of every certificate this issuer issued
  (``ocsp_cache_size``), served as is until it is ``ocsp_refresh`` old (nextUpdate is
  ``ocsp_validity`` after thisUpdate, well after that) or the certificate's status changes.
  ``refresh_due`` re-signs these and only these.
- **unknown**: ``unknown`` answers for serials this issuer never issued
  (``ocsp_on_demand_cache_size``), never refreshed, never pushing out a certificate's answer.
- **several**: answers to requests for several certificates (RFC 6960 §4.1.1), keyed by the
  CertIDs asked about, valid until any status changes (same bound).

Signing on demand for an unknown serial or for several certificates draws on a budget of
``ocsp_on_demand_rate`` signatures per second; when it is spent the request gets ``tryLater``
(RFC 6960 §2.3), so a flood of random serials costs database look-ups, not RSA.

Every status change is a row in the issuer's revocation log, and the responder re-signs the
changed serials as soon as it sees the row (at once for changes made through the same
``Jpki``; within ``poll_interval`` for changes made by another process).

Nonces are not echoed: a pre-signed response cannot contain the client's nonce, and RFC 5019
(and RFC 8954 §2.1) let a responder leave it out. ``openssl ocsp`` sends a nonce by default,
notes "WARNING: no nonce in response" and accepts the response. A nonce outside 1..128 octets
is refused (RFC 9654 §2.1).

Requests naming an unknown issuer, or certificates of both CAs at once, get ``unauthorized``;
bytes that are not one well-formed OCSP request get ``malformedRequest``; a database that does
not answer gives ``tryLater``. Never an exception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.pki import ocsp_wire
from openmyna.pki.ca import OCSP_HASHES, CertificateAuthority
from openmyna.pki.ocsp_wire import MAX_REQUEST_BYTES, CertRef, MalformedRequest, SingleAnswer
from openmyna.pki.profiles import SIGNATURE_HASH, CertKind, whole_seconds
from openmyna.pki.records import CertRecord, CertStatus, LogEntry, RevocationReason

__all__ = ["MAX_REQUEST_BYTES", "OcspResponder", "SignedResponse"]

log = logging.getLogger(__name__)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


MALFORMED_REQUEST = _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
UNAUTHORIZED = _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
TRY_LATER = _unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
INTERNAL_ERROR = _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

_Key = tuple[CertKind, str, int]  # (CA, CertID hash algorithm name, serial)
_Asked = list[tuple[_Key, CertificateAuthority]]
K = TypeVar("K")


@dataclasses.dataclass(frozen=True)
class SignedResponse:
    """A signed, DER-encoded OCSP response, what it says, and when to sign it again."""

    der: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    refresh_at: dt.datetime
    answer: SingleAnswer | None = None  # None for an answer about several certificates
    epoch: int = 0  # the responder's epoch it was made in (answers about several)


class _Bounded(Generic[K]):
    """A dict of at most ``size`` entries; the oldest inserted goes first."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.entries: dict[K, SignedResponse] = {}

    def put(self, key: K, value: SignedResponse) -> None:
        """Keep ``value``, dropping the oldest entry when full."""
        if key not in self.entries and len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = value

    def drop_older(self, now: dt.datetime) -> None:
        """Drop the entries whose refresh time has come (they are never served again)."""
        for key in [k for k, v in self.entries.items() if v.refresh_at <= now]:
            del self.entries[key]


class _Budget:
    """A token bucket: ``rate`` on-demand signatures a second, bursts of up to one second's."""

    def __init__(self, rate: float, monotonic: Callable[[], float]) -> None:
        self._rate = max(0.0, rate)
        self._burst = max(1.0, self._rate)
        self._tokens = self._burst
        self._monotonic = monotonic
        self._at = monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one signature if one is left."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


def _answer_for(
    record: CertRecord | None, kind: CertKind, now: dt.datetime, next_update: dt.datetime
) -> SingleAnswer:
    """What a response made at ``now`` says about a certificate (or a serial never issued)."""
    if record is None or record.kind is not kind:
        return SingleAnswer(ocsp.OCSPCertStatus.UNKNOWN, now, next_update)
    if record.status is CertStatus.GOOD:
        return SingleAnswer(ocsp.OCSPCertStatus.GOOD, now, next_update)
    reason: x509.ReasonFlags | None = None
    if record.status is CertStatus.SUSPENDED:
        reason = RevocationReason.CERTIFICATE_HOLD.flag()
    elif record.reason is not None and record.reason is not RevocationReason.UNSPECIFIED:
        reason = record.reason.flag()
    revoked_at = whole_seconds(record.revoked_at or now)
    return SingleAnswer(ocsp.OCSPCertStatus.REVOKED, now, next_update, revoked_at, reason)


class OcspResponder:
    """Answers OCSP requests for both JPKI CAs from bounded caches of signed responses."""

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
        on_demand_entries: int = 1_000,
        on_demand_rate: float = 20.0,
        cursor: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cas = dict(authorities)
        self._lookup = lookup
        self._changes = changes
        self._clock = clock
        self._validity = validity
        self._refresh = min(refresh, validity)
        self._poll_interval = poll_interval
        self._cursor = cursor
        #: The last revocation-log row whose change the answers reflect (after re-signing).
        self._applied = cursor
        self._certificates: _Bounded[_Key] = _Bounded(max_entries)  # issued certificates
        self._unknown: _Bounded[_Key] = _Bounded(on_demand_entries)  # "unknown" answers
        self._several: _Bounded[tuple[_Key, ...]] = _Bounded(on_demand_entries)
        self._budget = _Budget(on_demand_rate, monotonic)
        self._epoch = 0  # incremented by every invalidation
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._monotonic = monotonic
        self._last_poll = monotonic()
        # (hash name, issuerNameHash, issuerKeyHash) -> CA
        self._issuers: dict[tuple[str, bytes, bytes], CertificateAuthority] = {
            (alg, name_hash, key_hash): ca
            for ca in self._cas.values()
            for alg, (name_hash, key_hash) in ca.hashes.items()
        }
        self.signed = 0  # how many responses this responder signed (for tests and stats)
        self.refused = 0  # how many requests got tryLater because the budget was spent

    # --- answering ----------------------------------------------------------------------------

    def _parse(self, request_der: bytes) -> _Asked | bytes:
        """The cache keys and CAs a request asks about, or the error response to send."""
        try:
            refs = ocsp_wire.parse_request(request_der)
        except MalformedRequest:
            return MALFORMED_REQUEST
        asked: _Asked = []
        for ref in refs:
            ca = self._issuers.get((ref.algorithm, ref.name_hash, ref.key_hash))
            if ca is None:
                return UNAUTHORIZED
            asked.append(((ca.kind, ref.algorithm, ref.serial), ca))
        if len(asked) > 1 and len({ca.kind for _, ca in asked}) > 1:
            # A delegated responder answers only for its own CA (RFC 6960 §4.2.2.2), and one
            # response has one signer: certificates of both CAs cannot be answered together.
            return UNAUTHORIZED
        return asked

    def _fresh(self, key: _Key, now: dt.datetime) -> SignedResponse | None:
        hit = self._certificates.entries.get(key) or self._unknown.entries.get(key)
        if hit is not None and now < hit.refresh_at:
            return hit
        return None

    def _fresh_several(self, keys: tuple[_Key, ...], now: dt.datetime) -> SignedResponse | None:
        hit = self._several.entries.get(keys)
        if hit is not None and hit.epoch == self._epoch and now < hit.refresh_at:
            return hit
        return None

    def cached(self, request_der: bytes) -> bytes | None:
        """The response if it can be sent without signing or a database read, else None."""
        asked = self._parse(request_der)
        if isinstance(asked, bytes):
            return asked
        now = self._clock.now()
        if len(asked) == 1:
            hit = self._fresh(asked[0][0], now)
        else:
            hit = self._fresh_several(tuple(key for key, _ in asked), now)
        return None if hit is None else hit.der

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request (signing it if it is not cached)."""
        asked = self._parse(request_der)
        if isinstance(asked, bytes):
            return asked
        try:
            if len(asked) > 1:
                return self._respond_several(asked)
            key, ca = asked[0]
            hit = self._fresh(key, self._clock.now())
            if hit is not None:
                return hit.der
            made = self._sign(key, ca, on_demand=True)
        except OpenMynaError as exc:
            log.warning("OCSP status lookup failed: %s", exc.code)
            return TRY_LATER
        if made is None:
            return TRY_LATER
        return made.der

    def _sign(
        self, key: _Key, ca: CertificateAuthority, *, on_demand: bool = False
    ) -> SignedResponse | None:
        """Sign the response about one certificate and cache it; None if the budget is spent.

        Only an ``unknown`` answer made ``on_demand`` (for a request) draws on the budget.
        """
        kind, alg_name, serial = key
        # A status change invalidating the cache while this response is being made must not
        # be overwritten by it: the response is cached only if no invalidation happened since.
        epoch = self._epoch
        record = self._lookup(serial)
        now = whole_seconds(self._clock.now())
        next_update = now + self._validity
        answer = _answer_for(record, kind, now, next_update)
        issued = answer.status is not ocsp.OCSPCertStatus.UNKNOWN
        if not issued and on_demand and not self._take_budget():
            return None
        name_hash, key_hash = ca.hashes[alg_name]
        algorithm = next(a for a in OCSP_HASHES if a.name == alg_name)
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                name_hash,
                key_hash,
                serial,
                algorithm,
                answer.status,
                now,
                next_update,
                answer.revocation_time,
                answer.reason,
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
            answer=answer,
        )
        with self._lock:
            self.signed += 1
            if epoch != self._epoch:
                return signed  # answer this request with it, but do not keep it
            if issued:
                self._unknown.entries.pop(key, None)
                self._certificates.put(key, signed)
            else:
                self._certificates.entries.pop(key, None)
                self._unknown.put(key, signed)
        return signed

    def _take_budget(self) -> bool:
        if self._budget.take():
            return True
        with self._lock:
            self.refused += 1
        return False

    def _respond_several(self, asked: _Asked) -> bytes:
        """One signed response with a SingleResponse per certificate asked about, in order."""
        keys = tuple(key for key, _ in asked)
        hit = self._fresh_several(keys, self._clock.now())
        if hit is not None:
            return hit.der
        if not self._take_budget():
            return TRY_LATER
        epoch = self._epoch
        now = whole_seconds(self._clock.now())
        ca = asked[0][1]
        singles = []
        refresh_at = now + self._refresh
        for key, _ in asked:
            kind, alg_name, serial = key
            held = self._fresh(key, now)
            if held is not None and held.answer is not None:
                answer = held.answer  # a pre-signed answer's status and times, no database read
                refresh_at = min(refresh_at, held.refresh_at)
            else:
                answer = _answer_for(self._lookup(serial), kind, now, now + self._validity)
            name_hash, key_hash = ca.hashes[alg_name]
            ref = CertRef(alg_name, name_hash, key_hash, serial)
            singles.append(ocsp_wire.single_response(ref, answer))
        responder = ca.responder_cert
        key_hash = x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
        der_bytes = ocsp_wire.basic_response(
            singles,
            responder_key_hash=key_hash,  # SHA-1 of the subjectPublicKey bits (RFC 6960 §4.2.1)
            produced_at=now,
            responder_cert_der=responder.public_bytes(serialization.Encoding.DER),
            sign=lambda tbs: ca.responder_key.sign(tbs, padding.PKCS1v15(), SIGNATURE_HASH),
        )
        signed = SignedResponse(der_bytes, now, now + self._validity, refresh_at, epoch=epoch)
        with self._lock:
            self.signed += 1
            if epoch == self._epoch:
                self._several.put(keys, signed)
        return der_bytes

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
        """Forget the cached responses about ``serial``; the certificates' keys that were cached.

        Answers about several certificates made before are not served again either.
        """
        dropped = []
        with self._lock:
            self._epoch += 1
            for kind in self._cas:
                for alg in OCSP_HASHES:
                    key = (kind, alg.name, serial)
                    self._unknown.entries.pop(key, None)
                    if self._certificates.entries.pop(key, None) is not None:
                        dropped.append(key)
        return dropped

    def poll_due(self) -> bool:
        """Whether it is time to look for status changes made by another process."""
        return self._monotonic() - self._last_poll >= self._poll_interval

    def poll(self) -> int:
        """Apply revocation-log rows written since the last poll; how many serials changed.

        A changed serial's cached responses are dropped and signed again at once.
        """
        with self._poll_lock:
            self._last_poll = self._monotonic()
            entries = self._changes(self._cursor)
            changed: dict[int, CertKind] = {}
            for entry in entries:
                changed[entry.serial] = entry.kind
                self._cursor = max(self._cursor, entry.id)
            reached = self._cursor
        for serial, kind in changed.items():
            keys = self.invalidate(serial) or [(kind, "sha1", serial)]
            for key in keys:
                self._sign(key, self._cas[key[0]])
        self._applied = max(self._applied, reached)
        return len(changed)

    @property
    def applied(self) -> int:
        """The last revocation-log row whose status change every answer reflects."""
        return self._applied

    def refresh_due(self) -> int:
        """Sign again every certificate's cached response whose refresh time has come; how many.

        Unknown serials' answers and answers about several certificates are not refreshed:
        they are signed again on demand, within the budget, if they are asked for again.
        """
        now = self._clock.now()
        due = [k for k, v in list(self._certificates.entries.items()) if v.refresh_at <= now]
        for key in due:
            self._sign(key, self._cas[key[0]])
        with self._lock:  # what is past its refresh time is never served: drop it
            self._unknown.drop_older(now)
            self._several.drop_older(now)
        return len(due)

    def cache_size(self) -> int:
        """How many certificates' signed responses are cached."""
        return len(self._certificates.entries)

    def cache_sizes(self) -> dict[str, int]:
        """Entries in each cache: ``certificates``, ``unknown``, ``several``."""
        return {
            "certificates": len(self._certificates.entries),
            "unknown": len(self._unknown.entries),
            "several": len(self._several.entries),
        }

    def cache_bounds(self) -> dict[str, int]:
        """The most entries each cache may hold."""
        return {
            "certificates": self._certificates.size,
            "unknown": self._unknown.size,
            "several": self._several.size,
        }

    @property
    def algorithms(self) -> tuple[hashes.HashAlgorithm, ...]:
        """The CertID hash algorithms this responder understands."""
        return OCSP_HASHES
