"""JPKI (公的個人認証サービス), SPEC J1–J3: two CAs, certificate profiles, revocation, OCSP, CRL.

``Jpki`` issues user-authentication and signature certificates for the card, revokes and
suspends them (directly, or from registry and card events on the bus), publishes CRLs and
answers OCSP. ``Verifier`` is the relying parties' side: chain, validity, policy, status and
the signature over a challenge or document, with distinct error codes.
"""

from __future__ import annotations

from openmyna.pki.errors import (
    BadChallengeSignature,
    CertExpired,
    CertForged,
    CertificateAlreadyRevoked,
    CertificateNotFound,
    CertMalformed,
    CertNotYetValid,
    CertRevoked,
    CertSuspended,
    ChainInvalid,
    InvalidCertRequest,
    PkiError,
    PkiKeyError,
    SignCertUnderAge,
    StatusUnknown,
    UnknownIssuer,
    VerificationFailed,
    WrongCa,
    WrongKeyUsage,
    WrongPolicy,
)
from openmyna.pki.jpki import Jpki
from openmyna.pki.profiles import (
    OID_ADDRESS,
    OID_ADDRESS_SUBSTITUTE,
    OID_DATE_OF_BIRTH,
    OID_NAME,
    OID_NAME_SUBSTITUTE,
    OID_SEX,
    POLICY_AUTH,
    POLICY_SIGN,
    CertKind,
    SignCertItems,
    ca_name,
    parse_sign_items,
)
from openmyna.pki.records import CertRecord, CertStatus, LogEntry, RevocationReason
from openmyna.pki.status import (
    RevocationChecker,
    RevocationState,
    StatusResult,
    http_crl_fetch,
    http_ocsp_fetch,
)
from openmyna.pki.verify import AuthResult, SignatureResult, VerifiedCertificate, Verifier

__all__ = [
    "OID_ADDRESS",
    "OID_ADDRESS_SUBSTITUTE",
    "OID_DATE_OF_BIRTH",
    "OID_NAME",
    "OID_NAME_SUBSTITUTE",
    "OID_SEX",
    "POLICY_AUTH",
    "POLICY_SIGN",
    "AuthResult",
    "BadChallengeSignature",
    "CertExpired",
    "CertForged",
    "CertKind",
    "CertMalformed",
    "CertNotYetValid",
    "CertRecord",
    "CertRevoked",
    "CertStatus",
    "CertSuspended",
    "CertificateAlreadyRevoked",
    "CertificateNotFound",
    "ChainInvalid",
    "InvalidCertRequest",
    "Jpki",
    "LogEntry",
    "PkiError",
    "PkiKeyError",
    "RevocationChecker",
    "RevocationReason",
    "RevocationState",
    "SignCertItems",
    "SignCertUnderAge",
    "SignatureResult",
    "StatusResult",
    "StatusUnknown",
    "UnknownIssuer",
    "VerificationFailed",
    "VerifiedCertificate",
    "Verifier",
    "WrongCa",
    "WrongKeyUsage",
    "WrongPolicy",
    "ca_name",
    "http_crl_fetch",
    "http_ocsp_fetch",
    "parse_sign_items",
]
