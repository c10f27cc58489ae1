"""Whether the card behind a grant is still good: the portal's account and the JPKI issuer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from openmyna.errors import OpenMynaError
from openmyna.pki import CertStatus


class AccountCertificates(Protocol):
    """The portal's accounts (``portal.accounts.Accounts``)."""

    def certificate_serial(self, subject_id: str) -> int | None:
        """The serial of a linked user-authentication certificate, if it is linked."""
        ...


class IssuerStatus(Protocol):
    """The JPKI issuer (``pki.Jpki``)."""

    def status(self, serial: int) -> CertStatus:
        """A certificate's status as the issuer records it."""
        ...


class CardStatus:
    """``CertificateStatus`` from the issuer's own records (as its OCSP responder answers).

    A suspended (一時停止) or revoked (失効) user-authentication certificate stops every
    grant made with it: codes, refreshes and userinfo are refused.
    """

    def __init__(self, accounts: Callable[[], AccountCertificates], issuer: IssuerStatus) -> None:
        self.accounts = accounts
        self.issuer = issuer

    def good(self, subject_id: str) -> bool:
        """Whether the login certificate ``subject_id`` is neither revoked nor suspended."""
        serial = self.accounts().certificate_serial(subject_id)
        if serial is None:
            return False
        try:
            return self.issuer.status(serial) is CertStatus.GOOD
        except OpenMynaError:
            return False
