"""Detached CMS signatures (RFC 5652 SignedData) made with a key that never leaves the card.

The card signs a SHA-256 DigestInfo with RSASSA-PKCS1-v1_5 and nothing else, so the CMS
structure is built here around its signature (asn1crypto) and the card is handed only the
bytes to sign. The profile, one signer:

- ``ContentInfo`` of type ``id-signedData`` (RFC 5652 §3, §5.1), ``SignedData`` version 1
  (§5.1: the signer is named by issuer and serial, the content type is ``id-data``);
- ``digestAlgorithms`` = { SHA-256 } (RFC 5754 §2.2, parameters absent);
- ``encapContentInfo``: ``eContentType`` = ``id-data`` and **no** ``eContent``: the
  signature is detached (§5.2), the content travels beside it;
- ``certificates`` holds the signer's certificate (§5.1), so a verifier needs only the CA;
- one ``SignerInfo`` version 1, ``sid`` = ``issuerAndSerialNumber`` (§5.3), ``digestAlgorithm``
  SHA-256, ``signatureAlgorithm`` ``rsaEncryption`` (RFC 3370 §3.2; RFC 5754 §3.2 allows it
  or ``sha256WithRSAEncryption``, and the parser takes either);
- signed attributes (§5.3, §11): ``content-type`` (= ``id-data``), ``message-digest`` (the
  SHA-256 of the content) and ``signing-time`` (§11.3: UTCTime up to 2049); the signature is
  over their DER encoding as a ``SET OF`` (§5.4: the ``[0] IMPLICIT`` tag replaced by the
  ``SET`` tag), i.e. PKCS#1 v1.5 over SHA-256 of those bytes;
- no unsigned attributes, no CRLs.

``openssl cms -verify -binary -inform DER -content FILE -CAfile SIGN_CA.pem -purpose any``
accepts what ``build_detached`` makes (tests run the real binary). ``parse_detached`` reads a
signature back, refusing anything outside the profile (``CMS_MALFORMED``), and
``DetachedSignature.check_content`` checks the digest (``CMS_DIGEST_MISMATCH``); the
certificate, its status and the RSA signature are the ``Verifier``'s
(``Verifier.verify_signature(cert, signed_attributes, signature)``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from asn1crypto import cms, core, x509

from openmyna.pki.errors import CmsDigestMismatch, CmsMalformed

#: A CMS signature larger than this is refused before parsing (one certificate of ~1.5 KB,
#: three attributes and a 256-byte signature make about 2 KB).
MAX_CMS_BYTES = 16 * 1024
_SET_TAG = 0x31
_RSA_ALGORITHMS = ("rsassa_pkcs1v15", "sha256_rsa")

Sign = Callable[[bytes], bytes]


def _signed_attributes(content_digest: bytes, signing_time: dt.datetime) -> cms.CMSAttributes:
    return cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
            cms.CMSAttribute({"type": "signing_time", "values": [_time(signing_time)]}),
        ]
    )


def _time(moment: dt.datetime) -> cms.Time:
    # RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    if 1950 <= moment.year <= 2049:
        return cms.Time({"utc_time": moment})
    return cms.Time({"generalized_time": moment})


def signed_attributes(content: bytes, signing_time: dt.datetime) -> bytes:
    """The DER the signer signs: the three signed attributes of ``content`` as a SET OF."""
    digest = hashlib.sha256(content).digest()
    return bytes(_signed_attributes(digest, _utc_second(signing_time)).dump(force=True))


def _utc_second(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("the signing time must be timezone-aware")
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def build_detached(
    content: bytes, certificate_der: bytes, sign: Sign, *, signing_time: dt.datetime
) -> bytes:
    """A detached CMS SignedData (DER) over ``content``; ``sign`` makes the RSA signature.

    ``sign`` receives the DER of the signed attributes and returns RSASSA-PKCS1-v1_5 with
    SHA-256 over them (``CardClient.sign(KeyRef.SIGN, password, data=…)``).
    """
    try:
        cert = x509.Certificate.load(certificate_der)
        issuer, serial = cert.issuer, cert.serial_number
    except ValueError:
        raise CmsMalformed("the signer's certificate is not DER") from None
    at = _utc_second(signing_time)
    digest = hashlib.sha256(content).digest()
    attributes = _signed_attributes(digest, at)
    signature = sign(attributes.dump(force=True))
    sha256 = cms.DigestAlgorithm({"algorithm": "sha256"})
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": issuer, "serial_number": serial}
                    )
                }
            ),
            "digest_algorithm": sha256,
            "signed_attrs": attributes,
            "signature_algorithm": cms.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [sha256],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return bytes(info.dump(force=True))


@dataclass(frozen=True)
class DetachedSignature:
    """A detached CMS signature in the profile above, as parsed (not yet verified)."""

    #: The signer's certificate (DER), the one ``sid`` names.
    certificate_der: bytes = field(repr=False)
    #: The DER the signature is over: the signed attributes with the ``SET OF`` tag.
    signed_attributes: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    message_digest: bytes
    signing_time: dt.datetime
    serial: int

    def check_content(self, content: bytes) -> None:
        """Refuse (``CMS_DIGEST_MISMATCH``) unless this signs exactly ``content``."""
        if not hmac.compare_digest(hashlib.sha256(content).digest(), self.message_digest):
            raise CmsDigestMismatch(
                "the signature is over other content", serial=f"{self.serial:x}"
            )


def _one(attrs: cms.CMSAttributes, name: str) -> core.Asn1Value:
    found = [a for a in attrs if a["type"].native == name]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise CmsMalformed(f"the signed attributes need exactly one {name}")
    value: core.Asn1Value = found[0]["values"][0]
    return value


def parse_detached(der: bytes) -> DetachedSignature:
    """A detached CMS signature of the profile (``CMS_MALFORMED`` for anything else)."""
    if not der or len(der) > MAX_CMS_BYTES:
        raise CmsMalformed("the CMS signature is empty or too large", limit=MAX_CMS_BYTES)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise CmsMalformed("not a CMS SignedData")
        signed = info["content"]
        return _parse_signed(signed)
    except (ValueError, TypeError, KeyError):
        raise CmsMalformed("the CMS signature is not valid DER of SignedData") from None


def _parse_signed(signed: cms.SignedData) -> DetachedSignature:
    digests = [d["algorithm"].native for d in signed["digest_algorithms"]]
    if digests != ["sha256"]:
        raise CmsMalformed("the digest algorithm must be SHA-256 only")
    encap = signed["encap_content_info"]
    if encap["content_type"].native != "data":
        raise CmsMalformed("the content type must be id-data")
    if encap["content"].native is not None:
        raise CmsMalformed("the signature must be detached (no encapsulated content)")
    signers = list(signed["signer_infos"])
    if len(signers) != 1:
        raise CmsMalformed("exactly one signer is expected")
    signer = signers[0]
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise CmsMalformed("the signer must be named by issuer and serial number")
    issuer = sid.chosen["issuer"]
    serial = int(sid.chosen["serial_number"].native)
    if signer["digest_algorithm"]["algorithm"].native != "sha256":
        raise CmsMalformed("the signer's digest algorithm must be SHA-256")
    if signer["signature_algorithm"]["algorithm"].native not in _RSA_ALGORITHMS:
        raise CmsMalformed("the signature algorithm must be RSA PKCS#1 v1.5")
    if signer["unsigned_attrs"].native is not None:
        raise CmsMalformed("unsigned attributes are not expected")
    attrs = signer["signed_attrs"]
    if attrs.native is None:
        raise CmsMalformed("signed attributes are required")
    if _one(attrs, "content_type").native != "data":
        raise CmsMalformed("the content-type attribute must be id-data")
    digest = _one(attrs, "message_digest").native
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise CmsMalformed("the message digest must be a SHA-256")
    when = _one(attrs, "signing_time").native
    if not isinstance(when, dt.datetime):
        raise CmsMalformed("the signing time is not a time")
    certificate = _signer_certificate(signed, issuer, serial)
    raw = attrs.dump()  # the bytes as received: [0] IMPLICIT, re-tagged as the SET they sign
    return DetachedSignature(
        certificate_der=certificate,
        signed_attributes=bytes((_SET_TAG,)) + raw[1:],
        signature=bytes(signer["signature"].native),
        message_digest=digest,
        signing_time=when.astimezone(dt.UTC),
        serial=serial,
    )


def _signer_certificate(signed: cms.SignedData, issuer: x509.Name, serial: int) -> bytes:
    certificates = signed["certificates"]
    if certificates.native is None:
        raise CmsMalformed("the signer's certificate must be included")
    for choice in certificates:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if cert.serial_number == serial and cert.issuer == issuer:
            return bytes(cert.dump())
    raise CmsMalformed("the certificate the signer names is not included")
