"""Errors of the JPKI issuer and of the verification library, each with a stable code.

Messages never contain names, addresses, dates of birth, resident-record codes or key
material; a certificate is named by its serial number at most.
"""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, KeyFileError, NotFound, OpenMynaError


class PkiError(OpenMynaError):
    """Base of the JPKI issuer's errors."""

    code = "PKI_ERROR"


class InvalidCertRequest(InvalidInput):
    """An issuance request that cannot be honoured (wrong key type, bad item, bad date)."""

    code = "PKI_INVALID_REQUEST"


class SignCertUnderAge(InvalidInput):
    """A signature certificate (署名用電子証明書) for a resident under 15: not issued."""

    code = "SIGN_CERT_UNDER_15"


class CertificateNotFound(NotFound):
    """No certificate with that serial number was issued by this JPKI issuer."""

    code = "CERT_NOT_FOUND"


class CertificateAlreadyRevoked(Conflict):
    """Suspending or resuming a certificate that is revoked for good."""

    code = "CERT_ALREADY_REVOKED"


class PkiKeyError(KeyFileError):
    """The CA key files or the key-encryption secret are missing, unsafe or unreadable."""

    code = "PKI_KEY_ERROR"


# --- verification (relying parties) ---------------------------------------------------------


class VerificationFailed(OpenMynaError):
    """A certificate or a signature was refused by the verifier; ``code`` says why."""

    code = "CERT_INVALID"
    http_status = 401


class CertMalformed(VerificationFailed):
    """The bytes are not a parsable X.509 certificate."""

    code = "CERT_MALFORMED"


class UnknownIssuer(VerificationFailed):
    """The certificate names an issuer that is neither JPKI CA."""

    code = "UNKNOWN_ISSUER"


class WrongCa(VerificationFailed):
    """The certificate comes from the other JPKI CA (e.g. a signature cert used to log in)."""

    code = "WRONG_CA"


class CertForged(VerificationFailed):
    """The CA's signature over the certificate does not verify: it was forged or altered."""

    code = "CERT_FORGED"


class CertExpired(VerificationFailed):
    """The certificate's validity ended before the verification time."""

    code = "CERT_EXPIRED"


class CertNotYetValid(VerificationFailed):
    """The certificate's validity starts after the verification time."""

    code = "CERT_NOT_YET_VALID"


class WrongPolicy(VerificationFailed):
    """The certificate does not carry the JPKI policy OID of its kind."""

    code = "WRONG_POLICY"


class WrongKeyUsage(VerificationFailed):
    """The certificate's key usage does not allow the operation (or is missing)."""

    code = "WRONG_KEY_USAGE"


class ChainInvalid(VerificationFailed):
    """The path validator refused the chain for a reason not covered by a narrower code."""

    code = "CHAIN_INVALID"


class CertRevoked(VerificationFailed):
    """The certificate is revoked (失効)."""

    code = "CERT_REVOKED"


class CertSuspended(VerificationFailed):
    """The certificate is temporarily suspended (一時停止, certificateHold)."""

    code = "CERT_SUSPENDED"


class StatusUnknown(VerificationFailed):
    """Neither OCSP nor the CRL gave a trustworthy status for the certificate."""

    code = "STATUS_UNKNOWN"
    http_status = 503


class BadChallengeSignature(VerificationFailed):
    """The signature over the challenge (or document) does not verify with the cert's key."""

    code = "BAD_CHALLENGE_SIGNATURE"


class CmsMalformed(VerificationFailed):
    """A CMS signature that is not DER, or not the detached SignedData profile expected."""

    code = "CMS_MALFORMED"
    http_status = 400


class CmsDigestMismatch(VerificationFailed):
    """The CMS signature's message digest is not that of the content it is said to sign."""

    code = "CMS_DIGEST_MISMATCH"
