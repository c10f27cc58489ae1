"""Verification for relying parties (署名検証者 / platform operators, J3).

A small composable API. Each ``check_*`` function does one step and raises a
``VerificationFailed`` subclass with its own stable code:

1. ``check_issuer``      — the issuer is the JPKI CA of the expected kind (``UNKNOWN_ISSUER``,
                            ``WRONG_CA``)
2. ``check_ca_signature`` — the CA's signature over the certificate (``CERT_FORGED``)
3. ``check_validity``     — the certificate (and the CA) at the given time (``CERT_EXPIRED``,
                            ``CERT_NOT_YET_VALID``)
4. ``check_policy``       — the JPKI policy OID of the kind (``WRONG_POLICY``)
5. ``check_key_usage``    — digitalSignature (+ nonRepudiation for signing) (``WRONG_KEY_USAGE``)
6. ``check_path``         — cryptography's RFC 5280 path validator with a JPKI extension
                            policy, as the final word on the chain (``CHAIN_INVALID``)
7. ``check_signature``    — PKCS#1 v1.5 / SHA-256 over the challenge or document
                            (``BAD_CHALLENGE_SIGNATURE``)
8. the revocation status  — OCSP, CRL fallback, cached (``CERT_REVOKED``, ``CERT_SUSPENDED``,
                            ``STATUS_UNKNOWN``)

``Verifier`` runs step 1, step 3 and the path validator (which covers 2, 4 and 5 through the
JPKI extension policy); only when the validator refuses does it run 2, 4 and 5 to name the
reason, so a forgery is reported as ``CERT_FORGED`` even when it is also expired. Everything
except time, status and the signature depends only on the certificate's bytes and the trust
anchors, so the ``Verifier`` remembers that a certificate DER passed (``cache_chains``); time,
status and the signature are checked on every call.

The result names the person by a stable subject id derived from the issuer and the serial
number of the authentication certificate — never the individual number, which no JPKI
certificate carries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import threading
from collections.abc import Iterable, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import verification as xv

from openmyna.clock import Clock
from openmyna.pki.errors import (
    BadChallengeSignature,
    CertExpired,
    CertForged,
    CertMalformed,
    CertNotYetValid,
    CertRevoked,
    CertSuspended,
    ChainInvalid,
    StatusUnknown,
    UnknownIssuer,
    VerificationFailed,
    WrongCa,
    WrongKeyUsage,
    WrongPolicy,
)
from openmyna.pki.profiles import (
    POLICIES,
    CertKind,
    SignCertItems,
    kind_of_issuer,
    parse_sign_items,
    policy_oids,
)
from openmyna.pki.status import NoStatus, RevocationChecker, RevocationState, StatusResult

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


# --- the steps --------------------------------------------------------------------------------


def load_certificate(cert: x509.Certificate | bytes) -> x509.Certificate:
    """A certificate from DER or PEM bytes (``CERT_MALFORMED`` if it is neither)."""
    if isinstance(cert, x509.Certificate):
        return cert
    try:
        if cert.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(cert)
        return x509.load_der_x509_certificate(cert)
    except ValueError:
        raise CertMalformed("not an X.509 certificate") from None


def check_issuer(
    cert: x509.Certificate, anchors: Mapping[CertKind, x509.Certificate], kind: CertKind
) -> x509.Certificate:
    """The anchor of ``kind`` if it issued ``cert`` by name; else WRONG_CA or UNKNOWN_ISSUER."""
    expected = anchors[kind]
    if cert.issuer == expected.subject:
        return expected
    for other_kind, other in anchors.items():
        if other_kind is not kind and cert.issuer == other.subject:
            raise WrongCa(
                f"the certificate is from the {other_kind.value} CA, not the {kind.value} CA",
                serial=f"{cert.serial_number:x}",
            )
    if kind_of_issuer(cert.issuer) is not None:
        raise WrongCa("the certificate is from another JPKI CA", serial=f"{cert.serial_number:x}")
    raise UnknownIssuer("the certificate is not from a JPKI CA", serial=f"{cert.serial_number:x}")


def check_ca_signature(cert: x509.Certificate, anchor: x509.Certificate) -> None:
    """The anchor's signature over ``cert`` verifies (CERT_FORGED otherwise)."""
    try:
        cert.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        raise CertForged(
            "the CA signature over the certificate does not verify",
            serial=f"{cert.serial_number:x}",
        ) from None


def check_validity(
    not_before: dt.datetime, not_after: dt.datetime, at: dt.datetime, *, serial: int
) -> None:
    """``at`` lies within [not_before, not_after] (CERT_EXPIRED / CERT_NOT_YET_VALID)."""
    if at < not_before:
        raise CertNotYetValid("the certificate is not valid yet", serial=f"{serial:x}")
    if at > not_after:
        raise CertExpired("the certificate has expired", serial=f"{serial:x}")


def check_policy(cert: x509.Certificate, kind: CertKind) -> None:
    """The certificate carries the JPKI policy OID of ``kind`` (WRONG_POLICY otherwise)."""
    if POLICIES[kind] not in policy_oids(cert):
        raise WrongPolicy(
            f"the certificate lacks the JPKI {kind.value} policy",
            serial=f"{cert.serial_number:x}",
        )


def _usage_ok(usage: x509.KeyUsage, kind: CertKind) -> bool:
    if not usage.digital_signature:
        return False
    return kind is not CertKind.SIGN or usage.content_commitment


def check_key_usage(cert: x509.Certificate, kind: CertKind) -> None:
    """digitalSignature (and nonRepudiation for a signature cert), critical (WRONG_KEY_USAGE)."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        raise WrongKeyUsage(
            "the certificate has no key usage", serial=f"{cert.serial_number:x}"
        ) from None
    if not ext.critical or not _usage_ok(ext.value, kind):
        raise WrongKeyUsage(
            "the certificate's key usage does not allow this", serial=f"{cert.serial_number:x}"
        )


@functools.cache
def extension_policy(kind: CertKind) -> xv.ExtensionPolicy:
    """The end-entity extension policy of a JPKI kind for cryptography's path validator."""

    def usage(_policy: xv.Policy, _cert: x509.Certificate, ext: x509.KeyUsage) -> None:
        if not _usage_ok(ext, kind):
            raise ValueError("key usage does not match the JPKI profile")

    def policies(
        _policy: xv.Policy, _cert: x509.Certificate, ext: x509.CertificatePolicies
    ) -> None:
        if POLICIES[kind] not in [p.policy_identifier for p in ext]:
            raise ValueError("the JPKI policy OID is missing")

    def not_a_ca(
        _policy: xv.Policy, _cert: x509.Certificate, ext: x509.BasicConstraints | None
    ) -> None:
        if ext is not None and ext.ca:
            raise ValueError("an end-entity certificate must not be a CA")

    return (
        xv.ExtensionPolicy.permit_all()
        .require_present(x509.KeyUsage, xv.Criticality.CRITICAL, usage)
        .require_present(x509.CertificatePolicies, xv.Criticality.AGNOSTIC, policies)
        .require_present(x509.AuthorityKeyIdentifier, xv.Criticality.NON_CRITICAL, None)
        .may_be_present(x509.BasicConstraints, xv.Criticality.AGNOSTIC, not_a_ca)
    )


def check_path(
    cert: x509.Certificate, anchor: x509.Certificate, kind: CertKind, at: dt.datetime
) -> None:
    """RFC 5280 path validation to exactly ``anchor`` at ``at`` (CHAIN_INVALID otherwise)."""
    verifier = (
        xv.PolicyBuilder()
        .store(xv.Store([anchor]))
        .time(at)
        .max_chain_depth(1)
        .extension_policies(
            ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(), ee_policy=extension_policy(kind)
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(cert, [])
    except xv.VerificationError:
        raise ChainInvalid(
            "the certificate path does not validate", serial=f"{cert.serial_number:x}"
        ) from None


def check_signature(public_key: object, data: bytes, signature: bytes, *, serial: int) -> None:
    """A PKCS#1 v1.5 / SHA-256 signature over ``data`` (BAD_CHALLENGE_SIGNATURE otherwise)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadChallengeSignature("the certificate key is not RSA", serial=f"{serial:x}")
    try:
        public_key.verify(signature, data, _PKCS1, _SHA256)
    except InvalidSignature:
        raise BadChallengeSignature(
            "the signature does not verify with the certificate", serial=f"{serial:x}"
        ) from None


def check_status(result: StatusResult, at: dt.datetime, *, serial: int) -> None:
    """Refuse a revoked or suspended status (revocations after ``at`` do not count)."""
    if result.state is RevocationState.GOOD:
        return
    if result.state is RevocationState.UNKNOWN:
        raise StatusUnknown("the status of the certificate is unknown", serial=f"{serial:x}")
    if result.revoked_at is not None and result.revoked_at > at:
        return  # still valid at the time asked about
    if result.state is RevocationState.SUSPENDED:
        raise CertSuspended("the certificate is suspended", serial=f"{serial:x}")
    raise CertRevoked("the certificate is revoked", serial=f"{serial:x}")


def subject_id(issuer: x509.Name, serial: int) -> str:
    """A stable id of a certificate holder: issuer digest and serial, no personal data."""
    digest = hashlib.sha256(issuer.public_bytes()).hexdigest()[:16]
    return f"jpki:{digest}:{serial:x}"


# --- the composed verifier ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VerifiedCertificate:
    """A certificate that passed every check."""

    kind: CertKind
    serial: int
    subject_id: str
    not_before: dt.datetime
    not_after: dt.datetime
    status: StatusResult | None
    certificate: x509.Certificate = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class AuthResult:
    """A successful authentication with the user-authentication certificate."""

    subject_id: str
    serial: int
    not_after: dt.datetime
    status_source: str | None


@dataclasses.dataclass(frozen=True)
class SignatureResult:
    """A verified signature by a signature certificate, with the 4 items it carries."""

    subject_id: str
    serial: int
    items: SignCertItems = dataclasses.field(repr=False)
    status_source: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """The time-independent checks of one certificate DER that passed."""

    cert: x509.Certificate
    kind: CertKind
    anchor: x509.Certificate
    anchor_name: bytes
    public_key: rsa.RSAPublicKey
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    #: The certificate's validity intersected with the CA's.
    valid_from: dt.datetime
    valid_to: dt.datetime
    subject_id: str


class Verifier:
    """JPKI certificate and signature verification for a relying party."""

    def __init__(
        self,
        anchors: Mapping[CertKind, x509.Certificate] | Iterable[x509.Certificate],
        clock: Clock,
        *,
        revocation: RevocationChecker | None,
        cache_chains: bool = True,
        max_cached: int = 100_000,
    ) -> None:
        if isinstance(anchors, Mapping):
            self._anchors = {CertKind(k): v for k, v in anchors.items()}
        else:
            self._anchors = {}
            for anchor in anchors:
                kind = kind_of_issuer(anchor.subject)
                if kind is None:
                    raise ValueError("an anchor is not a JPKI CA certificate")
                self._anchors[kind] = anchor
        if set(self._anchors) != set(CertKind):
            raise ValueError("both JPKI CA certificates are needed")
        self._clock = clock
        self._revocation = revocation
        self._cache_chains = cache_chains
        self._max_cached = max_cached
        self._checked: dict[CertKind, dict[bytes, _Checked]] = {k: {} for k in CertKind}
        self._lock = threading.Lock()

    def _static_checks(
        self, der: bytes | None, cert: x509.Certificate, kind: CertKind, at: dt.datetime
    ) -> _Checked:
        anchor = check_issuer(cert, self._anchors, kind)
        try:
            check_validity(
                cert.not_valid_before_utc, cert.not_valid_after_utc, at, serial=cert.serial_number
            )
            check_validity(
                anchor.not_valid_before_utc,
                anchor.not_valid_after_utc,
                at,
                serial=anchor.serial_number,
            )
            # The path validator checks the CA signature, the policy and the key usage too
            # (through the JPKI extension policy); only a refusal needs the narrower checks,
            # which say why with their own codes. A forgery is named before anything else.
            check_path(cert, anchor, kind, at)
        except VerificationFailed as refused:
            check_ca_signature(cert, anchor)
            if isinstance(refused, ChainInvalid):
                check_policy(cert, kind)
                check_key_usage(cert, kind)
            raise
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - the path check refuses
            raise ChainInvalid("the certificate key is not RSA")
        checked = _Checked(
            cert=cert,
            kind=kind,
            anchor=anchor,
            anchor_name=anchor.subject.public_bytes(),
            public_key=key,
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            valid_from=max(cert.not_valid_before_utc, anchor.not_valid_before_utc),
            valid_to=min(cert.not_valid_after_utc, anchor.not_valid_after_utc),
            subject_id=subject_id(cert.issuer, cert.serial_number),
        )
        if self._cache_chains and der is not None:
            with self._lock:
                cache = self._checked[kind]
                if len(cache) >= self._max_cached:
                    cache.clear()
                cache[der] = checked
        return checked

    def _checked_cert(
        self, cert: x509.Certificate | bytes, kind: CertKind, at: dt.datetime
    ) -> _Checked:
        der = cert if isinstance(cert, bytes) else None
        if der is not None and self._cache_chains:
            hit = self._checked[kind].get(der)
            if hit is not None:
                if hit.valid_from <= at <= hit.valid_to:
                    return hit
                check_validity(hit.not_before, hit.not_after, at, serial=hit.serial)
                check_validity(
                    hit.anchor.not_valid_before_utc,
                    hit.anchor.not_valid_after_utc,
                    at,
                    serial=hit.anchor.serial_number,
                )
        parsed = load_certificate(cert)
        if der is not None and der.lstrip().startswith(b"-----BEGIN"):
            der = parsed.public_bytes(serialization.Encoding.DER)
        return self._static_checks(der, parsed, kind, at)

    def _status(self, checked: _Checked, at: dt.datetime) -> StatusResult | None:
        if self._revocation is None:
            return None
        now = self._clock.now()
        result = self._revocation.cached(checked.anchor_name, checked.serial, now)
        if result is None:
            try:
                result = self._revocation.check(checked.cert, checked.anchor, now)
            except NoStatus as exc:
                raise StatusUnknown(
                    "no trustworthy revocation status", serial=f"{checked.serial:x}", why=str(exc)
                ) from None
        check_status(result, at, serial=checked.serial)
        return result

    def check_certificate(
        self, cert: x509.Certificate | bytes, kind: CertKind, *, at: dt.datetime | None = None
    ) -> VerifiedCertificate:
        """Every check of a certificate of ``kind`` at ``at`` (default: now), status included."""
        at = at or self._clock.now()
        checked = self._checked_cert(cert, CertKind(kind), at)
        status = self._status(checked, at)
        return VerifiedCertificate(
            kind=checked.kind,
            serial=checked.serial,
            subject_id=checked.subject_id,
            not_before=checked.not_before,
            not_after=checked.not_after,
            status=status,
            certificate=checked.cert,
        )

    def verify_auth(
        self,
        cert: x509.Certificate | bytes,
        challenge: bytes,
        signature: bytes,
        *,
        at: dt.datetime | None = None,
    ) -> AuthResult:
        """Authenticate: the auth certificate is valid and signed ``challenge`` (PKCS#1 v1.5)."""
        at = at or self._clock.now()
        checked = self._checked_cert(cert, CertKind.AUTH, at)
        try:  # the key is known to be RSA: straight to the verification
            checked.public_key.verify(signature, challenge, _PKCS1, _SHA256)
        except InvalidSignature:
            raise BadChallengeSignature(
                "the signature does not verify with the certificate", serial=f"{checked.serial:x}"
            ) from None
        status = self._status(checked, at)
        return AuthResult(
            subject_id=checked.subject_id,
            serial=checked.serial,
            not_after=checked.not_after,
            status_source=status.source if status else None,
        )

    def verify_signature(
        self,
        cert: x509.Certificate | bytes,
        data: bytes,
        signature: bytes,
        *,
        at: dt.datetime | None = None,
    ) -> SignatureResult:
        """A document signature by a valid signature certificate; the 4 items it carries."""
        at = at or self._clock.now()
        checked = self._checked_cert(cert, CertKind.SIGN, at)
        check_signature(checked.public_key, data, signature, serial=checked.serial)
        status = self._status(checked, at)
        try:
            items = parse_sign_items(checked.cert)
        except ValueError:
            raise WrongPolicy(
                "the signature certificate lacks the 4 items", serial=f"{checked.serial:x}"
            ) from None
        return SignatureResult(
            subject_id=checked.subject_id,
            serial=checked.serial,
            items=items,
            status_source=status.source if status else None,
        )
