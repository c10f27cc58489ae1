"""Revocation status for relying parties: OCSP first, the CRL as fallback, both cached.

How bytes are fetched is pluggable: an ``OcspFetch`` takes (url, DER request) and returns the
DER response, a ``CrlFetch`` takes a URL and returns a DER CRL. ``http_ocsp_fetch`` and
``http_crl_fetch`` use HTTP; ``Jpki.ocsp_fetcher()`` / ``Jpki.crl_fetcher()`` answer in process.
Every response is checked before it is believed: the OCSP response's signature (by the CA or
by a responder certificate the CA issued for OCSP signing), the CertID, thisUpdate and
nextUpdate; the CRL's issuer, signature and nextUpdate.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from openmyna.clock import Clock
from openmyna.pki.profiles import url_of

OcspFetch = Callable[[str, bytes], bytes]
CrlFetch = Callable[[str], bytes]

DEFAULT_MAX_AGE = dt.timedelta(minutes=5)
DEFAULT_SKEW = dt.timedelta(minutes=5)
_SHA1 = hashes.SHA1()  # noqa: S303 - the OCSP CertID and responder-key hash, not a signature


class RevocationState(enum.StrEnum):
    """What a status source says about a certificate."""

    GOOD = "good"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True, slots=True)
class StatusResult:
    """A verified status, where it came from, and until when it may be reused."""

    state: RevocationState
    source: str  # "ocsp" or "crl"
    fresh_until: dt.datetime
    revoked_at: dt.datetime | None = None
    reason: x509.ReasonFlags | None = None


class NoStatus(Exception):
    """A status source gave nothing trustworthy (message: a fixed reason, no personal data)."""


def _digest(data: bytes, algorithm: hashes.HashAlgorithm = _SHA1) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _key_bits(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A DER OCSP request for one certificate (SHA-1 CertID, no nonce)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, _SHA1)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify_rsa(key: object, signature: bytes, data: bytes, algorithm: object) -> None:
    if not isinstance(key, rsa.RSAPublicKey) or not isinstance(algorithm, hashes.HashAlgorithm):
        raise NoStatus("the signature is not RSA with a known hash")
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise NoStatus("the signature does not verify") from None


def _responder_key(resp: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime) -> object:
    """The public key that must have signed ``resp``: the CA's or a delegated responder's."""
    issuer_key_hash = _digest(_key_bits(issuer))
    if resp.responder_key_hash == issuer_key_hash or resp.responder_name == issuer.subject:
        return issuer.public_key()
    for candidate in resp.certificates:
        by_key = resp.responder_key_hash == _digest(_key_bits(candidate))
        if not (by_key or resp.responder_name == candidate.subject):
            continue
        if candidate.issuer != issuer.subject:
            raise NoStatus("the responder certificate is from another CA")
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise NoStatus("the responder certificate is not signed by the CA") from None
        try:
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            raise NoStatus("the responder certificate is not for OCSP signing") from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise NoStatus("the responder certificate is not for OCSP signing")
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            raise NoStatus("the responder certificate is outside its validity")
        return candidate.public_key()
    raise NoStatus("the response names a responder it does not include")


def parse_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime,
    *,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
    skew: dt.timedelta = DEFAULT_SKEW,
) -> StatusResult:
    """Check an OCSP response about ``cert`` completely and return what it says."""
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise NoStatus("the OCSP response is malformed") from None
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise NoStatus(f"the OCSP responder said {resp.response_status.name}")
    try:
        algorithm = resp.hash_algorithm
        serial = resp.serial_number
        name_hash, key_hash = resp.issuer_name_hash, resp.issuer_key_hash
    except ValueError:
        raise NoStatus("the OCSP response does not hold exactly one answer") from None
    if (
        serial != cert.serial_number
        or name_hash != _digest(issuer.subject.public_bytes(), algorithm)
        or key_hash != _digest(_key_bits(issuer), algorithm)
    ):
        raise NoStatus("the OCSP response is about another certificate")
    _verify_rsa(
        _responder_key(resp, issuer, now),
        resp.signature,
        resp.tbs_response_bytes,
        resp.signature_hash_algorithm,
    )
    this_update, next_update = resp.this_update_utc, resp.next_update_utc
    if this_update > now + skew:
        raise NoStatus("the OCSP response is from the future")
    if next_update is not None and next_update < now - skew:
        raise NoStatus("the OCSP response is stale")
    fresh_until = now + max_age
    if next_update is not None:
        fresh_until = min(fresh_until, next_update)
    status = resp.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return StatusResult(RevocationState.GOOD, "ocsp", fresh_until)
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return StatusResult(RevocationState.UNKNOWN, "ocsp", fresh_until)
    reason = resp.revocation_reason
    state = (
        RevocationState.SUSPENDED
        if reason is x509.ReasonFlags.certificate_hold
        else RevocationState.REVOKED
    )
    return StatusResult(state, "ocsp", fresh_until, resp.revocation_time_utc, reason)


def check_crl(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime,
    *,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
    skew: dt.timedelta = DEFAULT_SKEW,
) -> StatusResult:
    """Check a DER CRL of ``issuer`` completely and look ``cert`` up in it."""
    return status_in_crl(load_crl(der, issuer, now, skew=skew), cert, now, max_age=max_age)


def load_crl(
    der: bytes, issuer: x509.Certificate, now: dt.datetime, *, skew: dt.timedelta = DEFAULT_SKEW
) -> x509.CertificateRevocationList:
    """Parse a CRL and check its issuer, signature and validity window."""
    try:
        crl = x509.load_der_x509_crl(der)
    except ValueError:
        raise NoStatus("the CRL is malformed") from None
    if crl.issuer != issuer.subject:
        raise NoStatus("the CRL is from another CA")
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not crl.is_signature_valid(key):
        raise NoStatus("the CRL signature does not verify")
    if crl.last_update_utc > now + skew:
        raise NoStatus("the CRL is from the future")
    if crl.next_update_utc is None or crl.next_update_utc < now - skew:
        raise NoStatus("the CRL is stale")
    return crl


def status_in_crl(
    crl: x509.CertificateRevocationList,
    cert: x509.Certificate,
    now: dt.datetime,
    *,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
) -> StatusResult:
    """What a (checked) CRL says about ``cert``."""
    next_update = crl.next_update_utc
    fresh_until = now + max_age if next_update is None else min(now + max_age, next_update)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return StatusResult(RevocationState.GOOD, "crl", fresh_until)
    reason: x509.ReasonFlags | None = None
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        reason = None
    state = (
        RevocationState.SUSPENDED
        if reason is x509.ReasonFlags.certificate_hold
        else RevocationState.REVOKED
    )
    return StatusResult(state, "crl", fresh_until, entry.revocation_date_utc, reason)


class RevocationChecker:
    """Cached status of JPKI certificates: OCSP first, then the CRL; raises ``NoStatus``."""

    def __init__(
        self,
        clock: Clock,
        *,
        ocsp_fetch: OcspFetch | None = None,
        crl_fetch: CrlFetch | None = None,
        ocsp_url: str | None = None,
        crl_url: Callable[[x509.Certificate], str | None] | None = None,
        max_age: dt.timedelta = DEFAULT_MAX_AGE,
        skew: dt.timedelta = DEFAULT_SKEW,
        max_entries: int = 100_000,
    ) -> None:
        if ocsp_fetch is None and crl_fetch is None:
            raise ValueError("a revocation checker needs an OCSP or a CRL fetcher")
        self._clock = clock
        self._ocsp_fetch = ocsp_fetch
        self._crl_fetch = crl_fetch
        self._ocsp_url = ocsp_url
        self._crl_url = crl_url
        self._max_age = max_age
        self._skew = skew
        self._max_entries = max_entries
        self._cache: dict[tuple[bytes, int], StatusResult] = {}
        self._crls: dict[str, tuple[x509.CertificateRevocationList, dt.datetime]] = {}
        self._lock = threading.Lock()
        self.fetches = {"ocsp": 0, "crl": 0}

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime | None = None
    ) -> StatusResult:
        """The status of ``cert`` (issued by ``issuer``), from the cache while it is fresh."""
        now = now or self._clock.now()
        key = (issuer.subject.public_bytes(), cert.serial_number)
        hit = self._cache.get(key)
        if hit is not None and now < hit.fresh_until:
            return hit
        result = self._fetch(cert, issuer, now)
        with self._lock:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            self._cache[key] = result
        return result

    def cached(self, issuer_name_der: bytes, serial: int, now: dt.datetime) -> StatusResult | None:
        """A fresh cached status, without fetching (the verifier's fast path)."""
        hit = self._cache.get((issuer_name_der, serial))
        if hit is not None and now < hit.fresh_until:
            return hit
        return None

    def forget_certificate(self, issuer_name_der: bytes, serial: int) -> None:
        """Drop the cached status of one certificate (its status changed): fetched anew."""
        with self._lock:
            self._cache.pop((issuer_name_der, serial), None)
            self._crls.clear()  # a CRL held from before the change would still say good

    def forget(self) -> None:
        """Drop every cached status and CRL."""
        with self._lock:
            self._cache.clear()
            self._crls.clear()

    def _fetch(
        self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
    ) -> StatusResult:
        problems = []
        if self._ocsp_fetch is not None:
            url = self._ocsp_url or url_of(cert, "ocsp")
            if url is not None:
                try:
                    self.fetches["ocsp"] += 1
                    der = self._ocsp_fetch(url, ocsp_request(cert, issuer))
                    result = parse_ocsp_response(
                        der, cert, issuer, now, max_age=self._max_age, skew=self._skew
                    )
                    if result.state is not RevocationState.UNKNOWN:
                        return result
                    problems.append("OCSP: unknown")
                except (NoStatus, OSError, ValueError) as exc:
                    problems.append(f"OCSP: {type(exc).__name__}")
        if self._crl_fetch is not None:
            url = self._crl_url(cert) if self._crl_url else url_of(cert, "crl")
            if url is not None:
                try:
                    return status_in_crl(
                        self._crl(url, issuer, now), cert, now, max_age=self._max_age
                    )
                except (NoStatus, OSError, ValueError) as exc:
                    problems.append(f"CRL: {type(exc).__name__}")
        raise NoStatus("; ".join(problems) or "no status source for this certificate")

    def _crl(
        self, url: str, issuer: x509.Certificate, now: dt.datetime
    ) -> x509.CertificateRevocationList:
        held = self._crls.get(url)
        if held is not None and now < held[1] and held[0].issuer == issuer.subject:
            return held[0]
        assert self._crl_fetch is not None
        self.fetches["crl"] += 1
        crl = load_crl(self._crl_fetch(url), issuer, now, skew=self._skew)
        next_update = crl.next_update_utc or now
        with self._lock:
            self._crls[url] = (crl, min(next_update, now + self._max_age))
        return crl


# --- HTTP fetchers --------------------------------------------------------------------------


def _http_url(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are fetched")
    return url


def http_ocsp_fetch(
    url: str, request_der: bytes, *, timeout: float = 5.0, get: bool = False
) -> bytes:
    """POST (or GET, base64 in the path as RFC 6960 A.1 says) an OCSP request over HTTP."""
    if get:
        encoded = urllib.parse.quote(base64.b64encode(request_der).decode("ascii"), safe="")
        target = _http_url(url.rstrip("/") + "/" + encoded)
        req = urllib.request.Request(target, method="GET")  # noqa: S310 - scheme checked
    else:
        req = urllib.request.Request(  # noqa: S310 - scheme checked
            _http_url(url),
            data=request_der,
            method="POST",
            headers={"Content-Type": "application/ocsp-request"},
        )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked
        return bytes(resp.read())


def http_crl_fetch(url: str, *, timeout: float = 5.0) -> bytes:
    """GET a DER CRL over HTTP."""
    req = urllib.request.Request(_http_url(url), method="GET")  # noqa: S310 - scheme checked
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked
        return bytes(resp.read())
