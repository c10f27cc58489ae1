"""OCSP on the wire: requests for one or more certificates read, answers for several written.

RFC 6960 §4.1.1 lets a request carry several certificates (``requestList``), and §4.2.1 lets a
response carry a ``SingleResponse`` for each. ``cryptography`` reads requests for one
certificate only and builds responses with one ``SingleResponse`` only ("Only one response
per OCSPResponse"). So what cryptography cannot read (several certificates, a nonce put
bare in extnValue as RFC 2560 clients did) is read here with ``openmyna.pki.der``, and the
response to a request for several certificates is written here. A request for one
certificate is still read by cryptography and answered with its ``OCSPResponseBuilder``
(``openmyna.pki.ocsp``).

The ASN.1 (RFC 6960 §4.1.1, §4.2.1, Appendix B.1; the module uses EXPLICIT TAGS)::

    OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest,
                               optionalSignature [0] EXPLICIT Signature OPTIONAL }
    TBSRequest  ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1,
                               requestorName [1] EXPLICIT GeneralName OPTIONAL,
                               requestList SEQUENCE OF Request,
                               requestExtensions [2] EXPLICIT Extensions OPTIONAL }
    Request     ::= SEQUENCE { reqCert CertID,
                               singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
    CertID      ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
                               issuerNameHash OCTET STRING, issuerKeyHash OCTET STRING,
                               serialNumber CertificateSerialNumber }
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509 import ocsp

from openmyna.pki import der
from openmyna.pki.der import DerError

#: The largest request body accepted: room for about 100 certificates (about 60 bytes each
#: with a SHA-1 CertID) and the largest nonce.
MAX_REQUEST_BYTES = 8192
#: The longest nonce accepted. RFC 9654 §2.1 (which obsoletes RFC 8954, whose bound was 32
#: octets): ``Nonce ::= OCTET STRING(SIZE(1..128))``, and a server MUST reject a request whose
#: nonce is 0 octets or longer than 128 with malformedRequest.
MAX_NONCE_OCTETS = 128

NONCE_OID = "1.3.6.1.5.5.7.48.1.2"  # id-pkix-ocsp-nonce, RFC 6960 §4.4.1
BASIC_RESPONSE_OID = "1.3.6.1.5.5.7.48.1.1"  # id-pkix-ocsp-basic, RFC 6960 §4.2.1
SHA256_WITH_RSA_OID = "1.2.840.113549.1.1.11"  # RFC 4055 §5
#: CertID hash algorithms: OID -> cryptography's name (RFC 3279 §2.2.1, RFC 5754 §2).
HASH_OIDS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_HASH_OID_OF = {name: dotted for dotted, name in HASH_OIDS.items()}
# OIDs are compared by their DER contents: quicker than decoding every one
_HASH_BY_CONTENTS = {der.oid(dotted)[2:]: name for dotted, name in HASH_OIDS.items()}
_NONCE_CONTENTS = der.oid(NONCE_OID)[2:]
#: CRLReason ::= ENUMERATED (RFC 5280 §5.3.1); 7 is not used.
CRL_REASON_CODES = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}


class MalformedRequest(ValueError):
    """The bytes are not one well-formed OCSP request (answered ``malformedRequest``)."""


class CertRef(NamedTuple):
    """One CertID of a request: which issuer (by hashes) and which serial."""

    algorithm: str  # cryptography's name of the hash algorithm, e.g. "sha1"
    name_hash: bytes
    key_hash: bytes
    serial: int


def parse_request(data: bytes) -> list[CertRef]:
    """The CertIDs an OCSP request asks about, in order; ``MalformedRequest`` if it is not one.

    The nonce is checked (RFC 9654 §2.1) but not kept: responses do not echo it (see
    ``openmyna.pki.ocsp``). A signature on the request is not checked.
    """
    if not data or len(data) > MAX_REQUEST_BYTES:
        raise MalformedRequest("empty or too large")
    # The usual request, for one certificate, is read by cryptography (several times quicker);
    # what it cannot read (several certificates, a bare nonce, garbage) is read here.
    try:
        req = ocsp.load_der_ocsp_request(data)
        ref = CertRef(
            req.hash_algorithm.name, req.issuer_name_hash, req.issuer_key_hash, req.serial_number
        )
        extensions = req.extensions
        bad_nonce = bool(extensions) and any(
            isinstance(e.value, x509.OCSPNonce) and not 1 <= len(e.value.nonce) <= MAX_NONCE_OCTETS
            for e in extensions
        )
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return _parse_der(data)
    if bad_nonce:
        raise MalformedRequest("nonce length outside 1..128 octets")
    return [ref]


def _parse_der(data: bytes) -> list[CertRef]:
    try:
        outer = der.read_all(der.read_one(data, der.SEQUENCE))
        if not outer or outer[0][0] != der.SEQUENCE or len(outer) > 2:
            raise DerError("not an OCSPRequest")
        if len(outer) == 2 and outer[1][0] != der.explicit(0):
            raise DerError("not an optionalSignature")
        fields = der.read_all(outer[0][1])
        i = 0
        if i < len(fields) and fields[i][0] == der.explicit(0):  # version: v1(0) only
            if der.parse_integer(der.read_one(fields[i][1], der.INTEGER)) != 0:
                raise DerError("unknown version")
            i += 1
        if i < len(fields) and fields[i][0] == der.explicit(1):  # requestorName: not used
            i += 1
        if i >= len(fields) or fields[i][0] != der.SEQUENCE:
            raise DerError("no requestList")
        refs = [_request(tag, body) for tag, body in der.read_all(fields[i][1])]
        i += 1
        if i < len(fields) and fields[i][0] == der.explicit(2):
            _check_extensions(fields[i][1])
            i += 1
        if i != len(fields):
            raise DerError("unexpected field")
    except DerError as exc:
        raise MalformedRequest(str(exc)) from None
    if not refs:
        raise MalformedRequest("no certificate asked about")
    return refs


def _request(tag: int, body: bytes) -> CertRef:
    if tag != der.SEQUENCE:
        raise DerError("not a Request")
    parts = der.read_all(body)
    if not parts or len(parts) > 2 or parts[0][0] != der.SEQUENCE:
        raise DerError("not a Request")
    if len(parts) == 2:
        if parts[1][0] != der.explicit(0):
            raise DerError("not singleRequestExtensions")
        _check_extensions(parts[1][1], nonce=False)
    cert_id = der.read_all(parts[0][1])
    if [t for t, _ in cert_id] != [der.SEQUENCE, der.OCTET_STRING, der.OCTET_STRING, der.INTEGER]:
        raise DerError("not a CertID")
    algorithm = der.read_all(cert_id[0][1])
    if not algorithm or algorithm[0][0] != der.OID or len(algorithm) > 2:
        raise DerError("not an AlgorithmIdentifier")
    if len(algorithm) == 2 and algorithm[1] != (der.NULL, b""):
        raise DerError("hash algorithm parameters")  # absent or NULL (RFC 5754 §2)
    name = _HASH_BY_CONTENTS.get(algorithm[0][1])
    if name is None:
        raise DerError("unsupported hash algorithm")
    return CertRef(name, cert_id[1][1], cert_id[2][1], der.parse_integer(cert_id[3][1]))


def _check_extensions(wrapped: bytes, *, nonce: bool = True) -> None:
    """Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension; a request nonce's length checked."""
    extensions = der.read_all(der.read_one(wrapped, der.SEQUENCE))
    if not extensions:
        raise DerError("empty extensions")
    for tag, body in extensions:
        if tag != der.SEQUENCE:
            raise DerError("not an Extension")
        parts = der.read_all(body)
        if len(parts) not in (2, 3) or parts[0][0] != der.OID:
            raise DerError("not an Extension")
        if len(parts) == 3 and parts[1][0] != der.BOOLEAN:
            raise DerError("not an Extension")
        if parts[-1][0] != der.OCTET_STRING:
            raise DerError("not an Extension")
        if nonce and parts[0][1] == _NONCE_CONTENTS:
            _check_nonce(parts[-1][1])


def _check_nonce(extn_value: bytes) -> None:
    # RFC 9654 §2.1: extnValue holds the DER of Nonce ::= OCTET STRING; clients written to
    # RFC 2560 may have put the bare octets there, which is what the length is then taken of.
    try:
        nonce = der.read_one(extn_value, der.OCTET_STRING)
    except DerError:
        nonce = extn_value
    if not 1 <= len(nonce) <= MAX_NONCE_OCTETS:
        raise DerError("nonce length outside 1..128 octets")


# --- responses for several certificates ---------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SingleAnswer:
    """What a ``SingleResponse`` says about one certificate."""

    status: ocsp.OCSPCertStatus
    this_update: dt.datetime
    next_update: dt.datetime
    revocation_time: dt.datetime | None = None
    reason: x509.ReasonFlags | None = None


def single_response(ref: CertRef, answer: SingleAnswer) -> bytes:
    """The DER of one SingleResponse (RFC 6960 §4.2.1)::

    SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus,
                                  thisUpdate GeneralizedTime,
                                  nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, ... }
    CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo,
                            unknown [2] IMPLICIT UnknownInfo }   -- UnknownInfo ::= NULL
    RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime,
                               revocationReason [0] EXPLICIT CRLReason OPTIONAL }
    """
    cert_id = der.sequence(
        der.sequence(der.oid(_HASH_OID_OF[ref.algorithm]), der.null()),
        der.octet_string(ref.name_hash),
        der.octet_string(ref.key_hash),
        der.integer(ref.serial),
    )
    if answer.status is ocsp.OCSPCertStatus.GOOD:
        status = der.tlv(der.implicit(0), b"")
    elif answer.status is ocsp.OCSPCertStatus.UNKNOWN:
        status = der.tlv(der.implicit(2), b"")
    else:
        if answer.revocation_time is None:
            raise ValueError("a revoked answer needs its revocation time")
        revoked = der.generalized_time(answer.revocation_time)
        if answer.reason is not None:
            code = der.integer(CRL_REASON_CODES[answer.reason], der.ENUMERATED)
            revoked += der.tlv(der.explicit(0), code)
        status = der.tlv(der.CONTEXT | der.CONSTRUCTED | 1, revoked)
    return der.sequence(
        cert_id,
        status,
        der.generalized_time(answer.this_update),
        der.tlv(der.explicit(0), der.generalized_time(answer.next_update)),
    )


def basic_response(
    single_responses: Sequence[bytes],
    *,
    responder_key_hash: bytes,
    produced_at: dt.datetime,
    responder_cert_der: bytes,
    sign: Callable[[bytes], bytes],
) -> bytes:
    """A successful OCSPResponse around one BasicOCSPResponse, signed (RFC 6960 §4.2.1)::

    OCSPResponse ::= SEQUENCE { responseStatus OCSPResponseStatus,   -- successful (0)
                                responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
    ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER,     -- id-pkix-ocsp-basic
                                 response OCTET STRING }
    BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData,
                                     signatureAlgorithm AlgorithmIdentifier,
                                     signature BIT STRING,
                                     certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
    ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1,   -- omitted (DER)
                                responderID ResponderID,               -- byKey [2] KeyHash
                                producedAt GeneralizedTime,
                                responses SEQUENCE OF SingleResponse,
                                responseExtensions [1] EXPLICIT Extensions OPTIONAL }

    ``sign`` signs the DER of ResponseData with sha256WithRSAEncryption.
    """
    tbs = der.sequence(
        der.tlv(der.explicit(2), der.octet_string(responder_key_hash)),
        der.generalized_time(produced_at),
        der.sequence(*single_responses),
    )
    basic = der.sequence(
        tbs,
        der.sequence(der.oid(SHA256_WITH_RSA_OID), der.null()),
        der.bit_string(sign(tbs)),
        der.tlv(der.explicit(0), der.sequence(responder_cert_der)),
    )
    response_bytes = der.sequence(der.oid(BASIC_RESPONSE_OID), der.octet_string(basic))
    return der.sequence(der.integer(0, der.ENUMERATED), der.tlv(der.explicit(0), response_bytes))
