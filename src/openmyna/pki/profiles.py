"""JPKI certificate profiles: CA names, policy OIDs, the 4 items in the SAN, validity times.

Two CAs as in JPKI (公的個人認証サービス): one issues signature certificates (署名用電子証明書),
the other user-authentication certificates (利用者証明用電子証明書). Everything is RSA-2048
with sha256WithRSAEncryption. The signature certificate carries the 4 basic items
(基本4情報) as otherName values of the subjectAltName under 1.2.392.200149.8.5.5; the
authentication certificate carries no personal information at all.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from openmyna.clock import JST

RSA_BITS = 2048
RSA_EXPONENT = 65537
SIGNATURE_HASH = hashes.SHA256()


class CertKind(enum.StrEnum):
    """The two JPKI certificate kinds, and so the two CAs."""

    #: 利用者証明用電子証明書: proves "this is the card holder" (login); no personal data.
    AUTH = "auth"
    #: 署名用電子証明書: signs documents; carries the 4 basic items.
    SIGN = "sign"


# --- object identifiers ---------------------------------------------------------------------

JPKI_ARC = "1.2.392.200149.8.5"
#: Certificate policy of the signature certificate.
POLICY_SIGN = x509.ObjectIdentifier(f"{JPKI_ARC}.1.1")
#: Certificate policy of the user-authentication certificate.
POLICY_AUTH = x509.ObjectIdentifier(f"{JPKI_ARC}.1.3")
POLICIES = {CertKind.AUTH: POLICY_AUTH, CertKind.SIGN: POLICY_SIGN}

OID_NAME = x509.ObjectIdentifier(f"{JPKI_ARC}.5.1")
OID_NAME_SUBSTITUTE = x509.ObjectIdentifier(f"{JPKI_ARC}.5.2")
OID_SEX = x509.ObjectIdentifier(f"{JPKI_ARC}.5.3")
OID_DATE_OF_BIRTH = x509.ObjectIdentifier(f"{JPKI_ARC}.5.4")
OID_ADDRESS = x509.ObjectIdentifier(f"{JPKI_ARC}.5.5")
OID_ADDRESS_SUBSTITUTE = x509.ObjectIdentifier(f"{JPKI_ARC}.5.6")

CA_VALIDITY_YEARS = 10
RESPONDER_VALIDITY = dt.timedelta(days=365)
#: The mark put in place of a character outside JIS X 0208 (ゲタ, the usual 代替文字).
SUBSTITUTE_MARK = "〓"
MAX_ITEM_LENGTH = 300
ISO_5218_SEXES = (0, 1, 2, 9)

_OU = {CertKind.AUTH: "JPKI for user authentication", CertKind.SIGN: "JPKI for digital signature"}


def ca_name(kind: CertKind) -> x509.Name:
    """The subject (and issuer) name of a JPKI CA, e.g. ``C=JP, O=JPKI, OU=JPKI for …``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _OU[kind]),
        ]
    )


def responder_name(kind: CertKind) -> x509.Name:
    """The subject of the delegated OCSP responder certificate of a CA."""
    return x509.Name([*ca_name(kind), x509.NameAttribute(NameOID.COMMON_NAME, "OCSP Responder")])


def kind_of_issuer(issuer: x509.Name) -> CertKind | None:
    """Which JPKI CA a name belongs to, if any."""
    for kind in CertKind:
        if issuer == ca_name(kind):
            return kind
    return None


# --- validity: times -------------------------------------------------------------------------
# The validity periods themselves (the 5th birthday after issue, the card's expiry, the period
# of stay, no signature certificate under 15) are the law's: ``openmyna.law.validity``.


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    """The same moment ``years`` later (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def end_of_day(day: dt.date) -> dt.datetime:
    """23:59:59 Japan time on ``day``, in UTC (certificate times have whole seconds)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), JST).astimezone(dt.UTC)


def whole_seconds(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC without microseconds (what a certificate can encode)."""
    return moment.astimezone(dt.UTC).replace(microsecond=0)


# --- the 4 items in the subjectAltName --------------------------------------------------------


@dataclass(frozen=True, repr=False)
class SignCertItems:
    """The 4 basic items as a signature certificate carries them."""

    name: str
    name_substitute: str
    sex: int
    date_of_birth: dt.date
    address: str
    address_substitute: str

    def __repr__(self) -> str:
        return "SignCertItems(…)"  # personal data stays out of logs and tracebacks


def substitute_characters(text: str) -> str:
    """``text`` with each character outside JIS X 0208 replaced by 〓 (代替文字)."""
    out = []
    for ch in text:
        try:
            ch.encode("iso2022_jp")
            out.append(ch)
        except UnicodeEncodeError:
            out.append(SUBSTITUTE_MARK)
    return "".join(out)


_UTF8_STRING = 0x0C
_PRINTABLE_STRING = 0x13


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_string(tag: int, text: str) -> bytes:
    """A DER UTF8String (0x0C) or PrintableString (0x13)."""
    raw = text.encode("utf-8" if tag == _UTF8_STRING else "ascii")
    return bytes([tag]) + _der_length(len(raw)) + raw


def parse_der_string(value: bytes) -> str:
    """The text of one DER UTF8String or PrintableString; ValueError if it is anything else."""
    if len(value) < 2 or value[0] not in (_UTF8_STRING, _PRINTABLE_STRING):
        raise ValueError("not a UTF8String or PrintableString")
    first = value[1]
    if first < 0x80:
        length, start = first, 2
    else:
        width = first & 0x7F
        if width == 0 or width > 4 or len(value) < 2 + width:
            raise ValueError("bad DER length")
        length, start = int.from_bytes(value[2 : 2 + width], "big"), 2 + width
        if length < 0x80 or value[2] == 0:
            raise ValueError("non-minimal DER length")
    if start + length != len(value):
        raise ValueError("DER length does not match the value")
    body = value[start:]
    return body.decode("utf-8") if value[0] == _UTF8_STRING else body.decode("ascii")


def items_san(items: SignCertItems) -> x509.SubjectAlternativeName:
    """The subjectAltName of a signature certificate: six otherName values."""
    values = [
        (OID_NAME, der_string(_UTF8_STRING, items.name)),
        (OID_NAME_SUBSTITUTE, der_string(_UTF8_STRING, items.name_substitute)),
        (OID_SEX, der_string(_PRINTABLE_STRING, str(items.sex))),
        (OID_DATE_OF_BIRTH, der_string(_PRINTABLE_STRING, items.date_of_birth.strftime("%Y%m%d"))),
        (OID_ADDRESS, der_string(_UTF8_STRING, items.address)),
        (OID_ADDRESS_SUBSTITUTE, der_string(_UTF8_STRING, items.address_substitute)),
    ]
    return x509.SubjectAlternativeName([x509.OtherName(oid, value) for oid, value in values])


def parse_sign_items(cert: x509.Certificate) -> SignCertItems:
    """Read the 4 items back from a signature certificate; ValueError if they are not there."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ValueError("no subjectAltName") from None
    found: dict[x509.ObjectIdentifier, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id.dotted_string.startswith(f"{JPKI_ARC}.5."):
            found[other.type_id] = parse_der_string(other.value)
    try:
        return SignCertItems(
            name=found[OID_NAME],
            name_substitute=found[OID_NAME_SUBSTITUTE],
            sex=int(found[OID_SEX]),
            date_of_birth=dt.datetime.strptime(found[OID_DATE_OF_BIRTH], "%Y%m%d").date(),
            address=found[OID_ADDRESS],
            address_substitute=found[OID_ADDRESS_SUBSTITUTE],
        )
    except KeyError:
        raise ValueError("an item of the 4 basic items is missing") from None


# --- certificate builders ---------------------------------------------------------------------


def _key_usage(
    *, sign: bool = False, non_repudiation: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _ski(cert_or_key: x509.Certificate | rsa.RSAPublicKey) -> x509.SubjectKeyIdentifier:
    key = cert_or_key.public_key() if isinstance(cert_or_key, x509.Certificate) else cert_or_key
    return x509.SubjectKeyIdentifier.from_public_key(key)


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def ca_certificate(
    kind: CertKind, key: rsa.RSAPrivateKey, serial: int, now: dt.datetime
) -> x509.Certificate:
    """A self-signed JPKI CA certificate valid for 10 years from ``now``."""
    start = whole_seconds(now)
    name = ca_name(kind)
    ski = _ski(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(add_years(start, CA_VALIDITY_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, SIGNATURE_HASH)
    )


def responder_certificate(
    kind: CertKind,
    key: rsa.RSAPublicKey,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    serial: int,
    now: dt.datetime,
) -> x509.Certificate:
    """The delegated OCSP responder certificate of a CA (id-kp-OCSPSigning, ocsp-nocheck)."""
    start = whole_seconds(now)
    end = min(start + RESPONDER_VALIDITY, ca_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(responder_name(kind))
        .issuer_name(ca_cert.subject)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=True)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(_ski(key), critical=False)
        .add_extension(_aki(ca_cert), critical=False)
        .sign(ca_key, SIGNATURE_HASH)
    )


def end_entity_certificate(
    kind: CertKind,
    *,
    public_key: rsa.RSAPublicKey,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    base_url: str,
    items: SignCertItems | None = None,
) -> x509.Certificate:
    """An auth or signature certificate; the subject is only ``C=JP, O=JPKI, CN=<serial>``."""
    base = base_url.rstrip("/")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{serial:X}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(whole_seconds(not_before))
        .not_valid_after(whole_seconds(not_after))
        .add_extension(_key_usage(sign=True, non_repudiation=kind is CertKind.SIGN), critical=True)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(_aki(ca_cert), critical=False)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(POLICIES[kind], None)]),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(f"{base}/crl/{kind.value}")],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{base}/ocsp"),
                    )
                ]
            ),
            critical=False,
        )
    )
    if kind is CertKind.SIGN:
        if items is None:
            raise ValueError("a signature certificate needs the 4 items")
        builder = builder.add_extension(items_san(items), critical=False)
    return builder.sign(ca_key, SIGNATURE_HASH)


def policy_oids(cert: x509.Certificate) -> Sequence[x509.ObjectIdentifier]:
    """The certificate policy OIDs a certificate carries (empty if none)."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return ()
    return [p.policy_identifier for p in policies]


def url_of(cert: x509.Certificate, what: str) -> str | None:
    """The OCSP URL (``what="ocsp"``) or CRL URL (``"crl"``) a certificate points at."""
    try:
        if what == "ocsp":
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            for desc in aia:
                if desc.access_method == x509.oid.AuthorityInformationAccessOID.OCSP:
                    return str(desc.access_location.value)
        else:
            cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            for point in cdp:
                for gn in point.full_name or ():
                    if isinstance(gn, x509.UniformResourceIdentifier):
                        return gn.value
    except x509.ExtensionNotFound:
        return None
    return None
