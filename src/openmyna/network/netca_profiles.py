"""The network CA's certificate profiles: its own certificate, node certificates and the CRL.

ECDSA P-256 with SHA-256 throughout. The CA certificate (``C=JP, O=openmyna``) may sign only
certificates and CRLs, with no intermediate below it; a node certificate names its agency
(``CN`` = agency id, ``O`` = agency kind), may only sign, and serves both ends of mutual TLS
(server and client authentication) for the hosts in its subject alternative name. Every
validity starts a few minutes early to tolerate clock skew between machines. These are pure
functions; ``netca.NetworkCA`` keeps the keys, files and revocations.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from openmyna.network.errors import InvalidNodeRequest

CA_VALIDITY = dt.timedelta(days=3652)  # 10 years
BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between machines
CA_NAME = "openmyna Information Provision Network CA"


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not host or any(c.isspace() for c in host) or len(host) > 253:
                raise InvalidNodeRequest("a node host name is malformed") from None
            names.append(x509.DNSName(host.lower()))
    if not names:
        raise InvalidNodeRequest("a node certificate needs at least one host")
    return x509.SubjectAlternativeName(names)


def ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    """The self-signed network CA certificate of ``key``, valid 10 years from ``now``."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "openmyna"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def node_certificate(
    public_key: ec.EllipticCurvePublicKey,
    agency_id: str,
    kind: str,
    hosts: Sequence[str],
    *,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A node certificate for ``agency_id`` (of ``kind``) at ``hosts``, signed by the CA."""
    san = _san(hosts)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, kind),
            x509.NameAttribute(NameOID.COMMON_NAME, agency_id),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def revocation_list(
    revoked: Mapping[str, Mapping[str, str]],
    *,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
) -> x509.CertificateRevocationList:
    """The CA's CRL of ``revoked`` (serial hex → {"agency", "at"}), issued ``now``."""
    # nextUpdate is the CA's end: the CRL travels as a file with the CA, re-signed on
    # every revocation, and must not expire under a stopped clock.
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - BACKDATE)
        .next_update(ca_cert.not_valid_after_utc)
    )
    for serial_hex, entry in sorted(revoked.items()):
        revoked_at = dt.datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial_hex, 16))
            .revocation_date(revoked_at)
            .build()
        )
    return builder.sign(ca_key, hashes.SHA256())
