"""The two JPKI certification authorities and their delegated OCSP responders.

Each CA has a self-signed RSA-2048 certificate valid for 10 years and a delegated OCSP
responder certificate (id-kp-OCSPSigning, id-pkix-ocsp-nocheck, one year) issued by it, so the
CA key signs only certificates and CRLs. Keys are created on first use and kept encrypted in
the data dir (``openmyna.pki.keys``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.clock import Clock
from openmyna.pki.keys import KeyFiles
from openmyna.pki.profiles import CertKind, ca_certificate, responder_certificate

#: A responder certificate is renewed when it has less than this left.
RESPONDER_RENEWAL = dt.timedelta(days=30)
#: Hash algorithms a client may use in an OCSP CertID.
OCSP_HASHES: tuple[hashes.HashAlgorithm, ...] = (
    hashes.SHA1(),  # noqa: S303 - the CertID hash OCSP clients (openssl) send by default
    hashes.SHA224(),
    hashes.SHA256(),
    hashes.SHA384(),
    hashes.SHA512(),
)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def issuer_hashes(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CA certificate, as an OCSP CertID carries them."""
    name = cert.subject.public_bytes()
    key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return _digest(algorithm, name), _digest(algorithm, key)


@dataclass(frozen=True)
class CertificateAuthority:
    """One JPKI CA: its certificate and key, and its OCSP responder's certificate and key."""

    kind: CertKind
    cert: x509.Certificate
    key: rsa.RSAPrivateKey = field(repr=False)
    responder_cert: x509.Certificate
    responder_key: rsa.RSAPrivateKey = field(repr=False)
    #: hash algorithm name -> (issuerNameHash, issuerKeyHash)
    hashes: dict[str, tuple[bytes, bytes]] = field(repr=False, hash=False)


def _load_or_create_ca(files: KeyFiles, kind: CertKind, clock: Clock) -> x509.Certificate:
    name = f"{kind.value}-ca"
    if not files.has(name):
        key = files.new_key(name)
        files.save_cert(name, ca_certificate(kind, key, x509.random_serial_number(), clock.now()))
    return files.load_cert(name)


def _responder_usable(
    responder: x509.Certificate, ca_cert: x509.Certificate, now: dt.datetime
) -> bool:
    try:
        responder.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return responder.not_valid_before_utc <= now and (
        responder.not_valid_after_utc - now > RESPONDER_RENEWAL
        or responder.not_valid_after_utc >= ca_cert.not_valid_after_utc
    )


def open_authorities(files: KeyFiles, clock: Clock) -> dict[CertKind, CertificateAuthority]:
    """Load both CAs (creating keys and certificates on first use, renewing responders)."""
    out: dict[CertKind, CertificateAuthority] = {}
    with files.lock():
        for kind in CertKind:
            ca_cert = _load_or_create_ca(files, kind, clock)
            ca_key = files.load_key(f"{kind.value}-ca")
            name = f"{kind.value}-ocsp"
            now = clock.now()
            if not files.has(name) or not _responder_usable(files.load_cert(name), ca_cert, now):
                key = files.new_key(name)
                cert = responder_certificate(
                    kind, key.public_key(), ca_cert, ca_key, x509.random_serial_number(), now
                )
                files.save_cert(name, cert)
            out[kind] = CertificateAuthority(
                kind=kind,
                cert=ca_cert,
                key=ca_key,
                responder_cert=files.load_cert(name),
                responder_key=files.load_key(name),
                hashes={a.name: issuer_hashes(ca_cert, a) for a in OCSP_HASHES},
            )
    return out
