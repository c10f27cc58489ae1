"""Portal accounts: who a verified card is, without the individual number.

The portal knows a person by an opaque account id and by its own agency-specific code for
them (情報提供用個人識別符号 of the portal agency, ``PORTAL_AGENCY``), which it asks the
network for once, at the first login, and uses for the person's exchange records and own
information. It never keeps the individual number nor the 4 items.

At a login the verified user-authentication certificate (``openmyna.pki.verify.AuthResult``)
is looked up by its ``subject_id``:

1. a certificate seen before logs in to its account;
2. a new certificate whose holder logged in before with an earlier one (a renewal, a new
   card) is linked to that account through the issuer's serial-number linkage
   (``Jpki.previous_auth_serials``), as J-LIS does for relying parties, so a renewal does not
   orphan the account;
3. otherwise it is the person's first login: the issuer tells whose certificate it is (the
   resident-record code), the identity index the number, and the network's hub the portal's
   code for that number; the number is used for that call and dropped.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.pki import CertRecord
from openmyna.pki.verify import AuthResult, subject_id
from openmyna.portal.errors import AccountNotFound, CertificateNotLinkable
from openmyna.portal.tables import account_certificates, accounts, login_history
from openmyna.registry import IdentityEntry, IdentityStatus
from openmyna.store import Store

#: The portal's agency id on the Information Provision Network (``network/data/agencies.toml``).
PORTAL_AGENCY = "myna-portal"
DEFAULT_LANGUAGE = "ja"


class CertificateIssuer(Protocol):
    """What the portal asks the JPKI issuer (``openmyna.pki.Jpki``)."""

    def record(self, serial: int) -> CertRecord:
        """Everything the issuer records about a certificate (its holder included)."""
        ...

    def certificate(self, serial: int) -> x509.Certificate:
        """The certificate with that serial (for its issuer name)."""
        ...

    def previous_auth_serials(self, serial: int) -> list[int]:
        """The holder's earlier user-authentication certificates, newest first."""
        ...


class Identities(Protocol):
    """The national identity index, as the first login reads it."""

    def by_resident_code(self, resident_code: str) -> IdentityEntry:
        """The entry of a resident-record code."""
        ...


class CodeIssuer(Protocol):
    """The network's hub, as the first login asks it for the portal's code."""

    def issue_code(self, agency_id: str, individual_number: str) -> str:
        """The agency's agency-specific code for a person."""
        ...


@dataclass(frozen=True)
class Account:
    """A portal account."""

    account_id: str
    #: The portal's agency-specific code for the person (never shown).
    portal_code: str
    language: str
    created_at: dt.datetime

    def __repr__(self) -> str:
        return f"Account(account_id={self.account_id!r}, language={self.language!r})"


@dataclass(frozen=True)
class LoginEntry:
    """One row of an account's login history."""

    recorded_at: dt.datetime
    action: str
    session_id: str | None
    detail: str


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _account(row: RowMapping) -> Account:
    return Account(
        row["account_id"], row["portal_code"], row["language"], _aware(row["created_at"])
    )


class Accounts:
    """The portal's accounts and the certificates that log in to them."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        issuer: CertificateIssuer,
        identities: Identities,
        codes: CodeIssuer,
    ) -> None:
        self.store = store
        self.clock = clock
        self.issuer = issuer
        self.identities = identities
        self.codes = codes

    def get(self, account_id: str) -> Account:
        """An account by id (``PORTAL_ACCOUNT_NOT_FOUND`` if none)."""
        with self.store.transaction() as s:
            row = (
                s.execute(select(accounts).where(accounts.c.account_id == account_id))
                .mappings()
                .first()
            )
        if row is None:
            raise AccountNotFound("no such portal account")
        return _account(row)

    def of_subject(self, subject: str) -> Account | None:
        """The account a certificate (``subject_id``) is linked to, if any."""
        with self.store.transaction() as s:
            return self._by_subject(s, subject)

    def for_login(self, verified: AuthResult) -> Account:
        """The account a verified user-authentication certificate logs in to (made if new)."""
        with self.store.transaction() as s:
            found = self._by_subject(s, verified.subject_id)
        if found is not None:
            return found
        linked = self._by_linkage(verified)
        if linked is not None:
            return linked
        return self._first_login(verified)

    def _by_subject(self, s: Session, subject: str) -> Account | None:
        row = (
            s.execute(
                select(accounts)
                .join(
                    account_certificates,
                    account_certificates.c.account_id == accounts.c.account_id,
                )
                .where(account_certificates.c.subject_id == subject)
            )
            .mappings()
            .first()
        )
        return None if row is None else _account(row)

    def _by_linkage(self, verified: AuthResult) -> Account | None:
        try:
            earlier = self.issuer.previous_auth_serials(verified.serial)
        except OpenMynaError:
            return None
        if not earlier:
            return None
        with self.store.transaction() as s:
            for serial in earlier:
                name = self.issuer.certificate(serial).issuer
                account = self._by_subject(s, subject_id(name, serial))
                if account is not None:
                    self._link(s, account.account_id, verified, "issuer_linkage")
                    return account
        return None

    def _first_login(self, verified: AuthResult) -> Account:
        try:
            record = self.issuer.record(verified.serial)
            entry = self.identities.by_resident_code(record.resident_code)
        except OpenMynaError:
            raise CertificateNotLinkable(
                "the issuer cannot name the certificate's holder"
            ) from None
        if entry.status is not IdentityStatus.CURRENT:
            raise CertificateNotLinkable("the certificate's holder is not a current resident")
        code = self.codes.issue_code(PORTAL_AGENCY, entry.individual_number)
        now = self.clock.now()
        with self.store.transaction() as s:
            row = (
                s.execute(select(accounts).where(accounts.c.portal_code == code)).mappings().first()
            )
            if row is None:  # the person's first login
                account_id = secrets.token_hex(16)
                s.execute(
                    insert(accounts).values(
                        account_id=account_id,
                        portal_code=code,
                        language=DEFAULT_LANGUAGE,
                        created_at=now,
                        updated_at=now,
                    )
                )
                how = "first_login"
            else:  # the person, with a certificate the linkage did not name
                account_id = row["account_id"]
                how = "issuer_linkage"
            self._link(s, account_id, verified, how)
        return self.get(account_id)

    def _link(self, s: Session, account_id: str, verified: AuthResult, how: str) -> None:
        now = self.clock.now()
        s.execute(
            insert(account_certificates).values(
                subject_id=verified.subject_id,
                account_id=account_id,
                serial=format(verified.serial, "X"),
                not_after=verified.not_after,
                linked_at=now,
                linked_by=how,
            )
        )
        self.record(s, account_id, "certificate_linked", detail=how)

    def record(
        self,
        s: Session,
        account_id: str,
        action: str,
        *,
        session_id: str | None = None,
        detail: str = "",
    ) -> None:
        """Append a row to the account's login history (inside ``s``)."""
        s.execute(
            insert(login_history).values(
                entry_id=secrets.token_hex(16),
                account_id=account_id,
                recorded_at=self.clock.now(),
                action=action,
                session_id=session_id,
                detail=detail[:200],
            )
        )

    def history(self, account_id: str, *, limit: int = 50) -> list[LoginEntry]:
        """The account's login history, newest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(login_history)
                .where(login_history.c.account_id == account_id)
                .order_by(login_history.c.recorded_at.desc(), login_history.c.entry_id)
                .limit(limit)
            ).mappings()
            return [
                LoginEntry(_aware(r["recorded_at"]), r["action"], r["session_id"], r["detail"])
                for r in rows
            ]

    def set_language(self, account_id: str, language: str) -> None:
        """The account's language (``ja`` or ``en``), checked by the caller."""
        with self.store.transaction() as s:
            s.execute(
                update(accounts)
                .where(accounts.c.account_id == account_id)
                .values(language=language, updated_at=self.clock.now())
            )

    def certificate_serial(self, subject_id: str) -> int | None:
        """The serial of a linked user-authentication certificate, if it is linked."""
        with self.store.transaction() as s:
            serial = s.scalar(
                select(account_certificates.c.serial).where(
                    account_certificates.c.subject_id == subject_id
                )
            )
        return None if serial is None else int(serial, 16)

    def subjects(self, account_id: str) -> list[str]:
        """The certificates (subject ids) linked to an account."""
        with self.store.transaction() as s:
            return list(
                s.scalars(
                    select(account_certificates.c.subject_id).where(
                        account_certificates.c.account_id == account_id
                    )
                )
            )
