"""Is the signer the applicant? The issuer tells who holds each certificate.

The session was opened with the person's user-authentication certificate; the application
is signed with a signature certificate. The two certificates have different serials and
the user-authentication certificate carries no name, so the portal asks the JPKI issuer
(as it does at a first login, ``portal.accounts``) who holds each: the same resident (the
resident-record code the issuer recorded for both) is the same person. Another person's
card, even a valid one, is refused (``SIGNER_NOT_APPLICANT``).

The real portal's rule for this is not published as such; this is openmyna's, with the
issuer's records as the one source of who holds a certificate.
"""

from __future__ import annotations

from collections.abc import Callable

from openmyna.errors import OpenMynaError
from openmyna.pki import CertKind
from openmyna.portal.accounts import Accounts, CertificateIssuer


class IssuerHolders:
    """``Holders`` answered from the portal's accounts and the JPKI issuer's records."""

    def __init__(self, accounts: Callable[[], Accounts], issuer: CertificateIssuer) -> None:
        self.accounts = accounts  # the portal's, asked for when needed (built after this)
        self.issuer = issuer

    def same_holder(self, auth_subject_id: str, sign_serial: int) -> bool:
        """Whether the signature certificate's holder is the logged-in certificate's."""
        auth_serial = self.accounts().certificate_serial(auth_subject_id)
        if auth_serial is None:
            return False
        try:
            auth = self.issuer.record(auth_serial)
            sign = self.issuer.record(sign_serial)
        except OpenMynaError:
            return False
        return (
            auth.kind is CertKind.AUTH
            and sign.kind is CertKind.SIGN
            and auth.resident_code == sign.resident_code
        )
