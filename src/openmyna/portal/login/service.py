"""The card login (P1): one-time login requests, the card's answer, the browser's session.

1. The browser asks for a login (``start``): a request with a random id, a one-time nonce, a
   short code to type instead of scanning, an expiry (``login_request_ttl``) and the SHA-256
   of a secret only that browser holds (a cookie).
2. The holder's app fetches the request (``challenge``) and posts the auth certificate and
   the card's signature over ``openmyna.card.login.login_message(origin, id, nonce)``
   (``answer``). The verifier (``openmyna.pki.Verifier``) checks the chain, the validity,
   the JPKI policy, the signature and the revocation status; the account is found or made
   (``Accounts.for_login``).
3. The waiting browser collects its session (``collect``): only the browser holding the
   secret, once, with a new session token (no fixation).

A revoked or suspended certificate cannot log in, and what it opened ends:
``follow_revocations`` reads the JPKI revocation log after a cursor kept in the portal's
store, drops the verifier's cached status of each changed certificate, fails the answered
requests it had not yet collected and ends its sessions (``Sessions.end_for_subject``). The
platform's background loop calls it, and every answer does before its verification, so a
status cached as good before a revocation never lets the certificate in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.card.login import REQUEST_PATH, login_message, origin_of
from openmyna.clock import Clock
from openmyna.config import PortalSettings
from openmyna.errors import OpenMynaError
from openmyna.pki import CertKind, CertRevoked, CertSuspended, LogEntry, RevocationChecker, Verifier
from openmyna.pki.records import Action
from openmyna.pki.verify import AuthResult, load_certificate, subject_id
from openmyna.portal.accounts import Accounts
from openmyna.portal.errors import CertificateNotLinkable
from openmyna.portal.login.errors import (
    LoginAnswerMalformed,
    LoginRequestAnswered,
    LoginRequestExpired,
    LoginRequestFailed,
    LoginRequestNotFound,
    NotThisBrowser,
)
from openmyna.portal.login.limits import RateLimits
from openmyna.portal.sessions import EndReason, PortalSession, Sessions, token_hash
from openmyna.portal.tables import cursors, login_requests
from openmyna.store import Store

#: Short codes: 8 characters without 0/O, 1/I (2^40 codes; a request lives 5 minutes).
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 8
#: An answered request's session is collected within this long of the answer.
COLLECT_WITHIN = dt.timedelta(minutes=2)
#: Requests are deleted this long after they expired (the login history keeps the logins).
KEEP_REQUESTS = dt.timedelta(hours=1)
PURGE_EVERY = dt.timedelta(minutes=10)
#: A JPKI certificate is about 1.5 kB of DER; an RSA-2048 signature 256 bytes.
MAX_CERTIFICATE = 8192
MAX_SIGNATURE = 512
#: The cursor of the JPKI revocation log (``cursors.name``).
REVOCATION_CURSOR = "jpki_revocations"
FOLLOW_BATCH = 1000
#: Certificates whose account the login remembers (then it forgets them all and asks again).
ACCOUNT_CACHE = 100_000
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
TOO_MANY_ANSWERS = "LOGIN_TOO_MANY_ANSWERS"


class RequestStatus(StrEnum):
    """Where a login request is."""

    PENDING = "pending"
    ANSWERED = "answered"
    COLLECTED = "collected"
    FAILED = "failed"


class RevocationLog(Protocol):
    """What the login follows of the JPKI issuer (``openmyna.pki.Jpki``)."""

    def revocation_changes(self, after: int, *, limit: int = 10_000) -> list[LogEntry]:
        """Revocation-log rows after ``after``, oldest first."""
        ...

    def status_position(self) -> int:
        """The last revocation-log row the issuer's status answers (OCSP) reflect."""
        ...

    def ca_certificate(self, kind: CertKind) -> x509.Certificate:
        """The CA certificate of a kind (whose subject is its certificates' issuer)."""
        ...


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def normalize_code(code: str) -> str:
    """A short code as typed (``abcd-efgh``, spaces) as it is stored (``ABCDEFGH``)."""
    return re.sub(r"[\s-]", "", code).upper()[:16]


@dataclass(frozen=True)
class LoginRequest:
    """One login request."""

    request_id: str
    nonce: str
    short_code: str
    origin: str
    next_path: str
    created_at: dt.datetime
    expires_at: dt.datetime
    status: RequestStatus
    attempts: int
    failure: str | None
    account_id: str | None
    subject_id: str | None
    answered_at: dt.datetime | None
    browser_secret_hash: str

    @property
    def display_code(self) -> str:
        """The short code as shown: ``ABCD-EFGH``."""
        half = len(self.short_code) // 2
        return f"{self.short_code[:half]}-{self.short_code[half:]}"

    @property
    def message(self) -> bytes:
        """What the card signs to answer this request."""
        return login_message(self.origin, self.request_id, self.nonce)

    def path(self) -> str:
        """The request's path on the portal (the QR code holds ``origin + path``)."""
        return REQUEST_PATH + self.request_id

    @property
    def url(self) -> str:
        """The request's URL: what the QR code encodes and the holder's app opens."""
        return self.origin + self.path()

    def __repr__(self) -> str:
        return f"LoginRequest(request_id={self.request_id!r}, status={self.status.value!r})"


def _request(row: RowMapping) -> LoginRequest:
    answered = row["answered_at"]
    return LoginRequest(
        request_id=row["request_id"],
        nonce=row["nonce"],
        short_code=row["short_code"],
        origin=row["origin"],
        next_path=row["next_path"],
        created_at=_aware(row["created_at"]),
        expires_at=_aware(row["expires_at"]),
        status=RequestStatus(row["status"]),
        attempts=int(row["attempts"]),
        failure=row["failure"],
        account_id=row["account_id"],
        subject_id=row["subject_id"],
        answered_at=_aware(answered) if answered is not None else None,
        browser_secret_hash=row["browser_secret_hash"],
    )


@dataclass(frozen=True)
class Started:
    """A new login request and the secret its browser keeps (the cookie's value)."""

    request: LoginRequest
    browser_secret: str

    def __repr__(self) -> str:
        return f"Started({self.request!r})"


@dataclass(frozen=True)
class Collected:
    """A login request's session, collected by its browser.

    ``token`` is None when the session was collected already (a second poll): the browser
    has its cookie from the first.
    """

    next_path: str
    token: str | None = None
    session: PortalSession | None = None

    def __repr__(self) -> str:
        return f"Collected(next_path={self.next_path!r})"


def _short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


class _Lost(Exception):
    """The answered request was taken meanwhile (collected, or failed by a revocation)."""


class Logins:
    """The portal's card login: requests, answers, sessions, and revocations followed."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: PortalSettings,
        *,
        accounts: Accounts,
        sessions: Sessions,
        verifier: Verifier,
        checker: RevocationChecker | None = None,
        revocations: RevocationLog | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.accounts = accounts
        self.sessions = sessions
        self.verifier = verifier
        self.checker = checker
        self.revocations = revocations
        self.limits = RateLimits(clock)
        self._follow_lock = threading.Lock()
        self._position: int | None = None
        self._issuers: dict[CertKind, x509.Name] = {}
        self._purged_at: dt.datetime | None = None
        self._accounts: dict[str, str] = {}  # subject_id -> account_id

    # --- the browser starts a login ------------------------------------------------------------

    def start(self, *, origin: str, next_path: str = "/", client: str = "") -> Started:
        """A new login request for the browser at ``client`` (rate-limited per address).

        ``origin`` is where the browser reached the portal; ``PortalSettings.public_origin``
        replaces it when set (a portal behind a proxy, reached by one name).
        """
        self.limits.hit(f"start:{client}", self.settings.login_starts_per_minute, "login requests")
        secret = secrets.token_urlsafe(32)
        now = self.clock.now()
        values = {
            "request_id": secrets.token_hex(16),
            "nonce": secrets.token_urlsafe(32),
            "short_code": _short_code(),
            "browser_secret_hash": token_hash(secret),
            "created_at": now,
            "expires_at": now + self.settings.login_request_ttl,
            "status": RequestStatus.PENDING.value,
            "origin": origin_of(self.settings.public_origin or origin),
            "next_path": next_path[:500],
            "attempts": 0,
        }
        with self.store.transaction() as s:
            s.execute(insert(login_requests).values(**values))
        made = LoginRequest(
            request_id=str(values["request_id"]),
            nonce=str(values["nonce"]),
            short_code=str(values["short_code"]),
            origin=str(values["origin"]),
            next_path=str(values["next_path"]),
            created_at=now,
            expires_at=now + self.settings.login_request_ttl,
            status=RequestStatus.PENDING,
            attempts=0,
            failure=None,
            account_id=None,
            subject_id=None,
            answered_at=None,
            browser_secret_hash=str(values["browser_secret_hash"]),
        )
        return Started(made, secret)

    def _load(self, s: Session, request_id: str) -> LoginRequest:
        if not _REQUEST_ID.fullmatch(request_id):
            raise LoginRequestNotFound("no such login request")
        row = (
            s.execute(select(login_requests).where(login_requests.c.request_id == request_id))
            .mappings()
            .first()
        )
        if row is None:
            raise LoginRequestNotFound("no such login request")
        return _request(row)

    def get(self, request_id: str) -> LoginRequest:
        """A login request by id (``LOGIN_REQUEST_NOT_FOUND``)."""
        with self.store.transaction() as s:
            return self._load(s, request_id)

    @staticmethod
    def owns(request: LoginRequest, browser_secret: str | None) -> bool:
        """Whether ``browser_secret`` is the secret of the browser that made ``request``."""
        if not browser_secret:
            return False
        return hmac.compare_digest(
            token_hash(browser_secret).encode("ascii"), request.browser_secret_hash.encode()
        )

    def _require_open(self, request: LoginRequest, now: dt.datetime) -> None:
        if request.status in (RequestStatus.ANSWERED, RequestStatus.COLLECTED):
            raise LoginRequestAnswered("the login request was answered already")
        if request.status is RequestStatus.FAILED:
            raise LoginRequestFailed(
                "the login request was closed: start a new one",
                reason=request.failure or "",
            )
        if now >= request.expires_at:
            raise LoginRequestExpired("the login request has expired: start a new one")

    # --- the holder's app --------------------------------------------------------------------

    def challenge(self, request_id: str) -> LoginRequest:
        """The request a card is to answer (refused if expired, answered or failed)."""
        request = self.get(request_id)
        self._require_open(request, self.clock.now())
        return request

    def by_short_code(self, code: str, *, client: str = "") -> LoginRequest:
        """The open request with the short code ``code`` (rate-limited like answers)."""
        self.limits.hit(f"answer:{client}", self.settings.login_answers_per_minute, "card answers")
        wanted = normalize_code(code)
        now = self.clock.now()
        with self.store.transaction() as s:
            rows = (
                s.execute(
                    select(login_requests)
                    .where(
                        login_requests.c.short_code == wanted,
                        login_requests.c.status == RequestStatus.PENDING.value,
                        login_requests.c.expires_at > now,
                    )
                    .limit(2)
                )
                .mappings()
                .all()
            )
        if len(rows) != 1:  # none, or (in 2^40) two at once: neither is guessed
            raise LoginRequestNotFound("no open login request with that code")
        return _request(rows[0])

    def answer(
        self, request_id: str, certificate: bytes, signature: bytes, *, client: str = ""
    ) -> LoginRequest:
        """Verify the card's answer to a request and find the account; the answered request.

        Refused with the verifier's code (``BAD_CHALLENGE_SIGNATURE``, ``CERT_REVOKED``, …)
        or the request's (``LOGIN_REQUEST_EXPIRED``, ``LOGIN_REQUEST_ANSWERED``, …). Every
        answer counts against the request (``login_answer_attempts``); a revoked or
        suspended certificate closes the request at once and its refusal is recorded in the
        account's login history.
        """
        self.limits.hit(f"answer:{client}", self.settings.login_answers_per_minute, "card answers")
        if not 0 < len(certificate) <= MAX_CERTIFICATE or not 0 < len(signature) <= MAX_SIGNATURE:
            raise LoginAnswerMalformed("the answer needs a certificate and a signature")
        if self._behind():
            self.follow_revocations()  # a status change this process knows of: act on it first
        now = self.clock.now()
        request = self.get(request_id)
        self._require_open(request, now)
        limit = self.settings.login_answer_attempts
        if request.attempts >= limit:
            self._fail(request_id, TOO_MANY_ANSWERS)
            raise LoginRequestFailed(
                "too many answers to this login request", reason=TOO_MANY_ANSWERS
            )
        try:
            verified = self.verifier.verify_auth(certificate, request.message, signature)
            account_id = self._account_of(verified)
        except (CertRevoked, CertSuspended) as refused:
            # The signature verified before the status was asked: the holder's own card.
            self._refused(request, certificate, refused.code)
            raise
        except CertificateNotLinkable as refused:
            self._fail(request_id, refused.code)
            raise
        except OpenMynaError:
            self._count_attempt(request_id)
            raise
        open_ = (
            (login_requests.c.request_id == request_id)
            & (login_requests.c.status == RequestStatus.PENDING.value)
            & (login_requests.c.attempts < limit)
            & (login_requests.c.expires_at > now)
        )
        with self.store.transaction() as s:
            done = s.execute(
                update(login_requests)
                .where(open_)
                .values(
                    status=RequestStatus.ANSWERED.value,
                    attempts=login_requests.c.attempts + 1,
                    account_id=account_id,
                    subject_id=verified.subject_id,
                    answered_at=now,
                )
            )
            changed = bool(getattr(done, "rowcount", 0))
        if not changed:  # another answer (or a revocation, or the time) came first
            self._require_open(self.get(request_id), now)
            raise LoginRequestAnswered("the login request was answered already")
        return dataclasses.replace(
            request,
            status=RequestStatus.ANSWERED,
            attempts=request.attempts + 1,
            account_id=account_id,
            subject_id=verified.subject_id,
            answered_at=now,
        )

    def _account_of(self, verified: AuthResult) -> str:
        """The account a verified certificate logs in to (``Accounts.for_login``), remembered:
        a certificate's account never changes (``account_certificates`` is keyed by it)."""
        found = self._accounts.get(verified.subject_id)
        if found is None:
            found = self.accounts.for_login(verified).account_id
            if len(self._accounts) >= ACCOUNT_CACHE:
                self._accounts.clear()
            self._accounts[verified.subject_id] = found
        return found

    def _count_attempt(self, request_id: str) -> None:
        with self.store.transaction() as s:
            s.execute(
                update(login_requests)
                .where(
                    login_requests.c.request_id == request_id,
                    login_requests.c.status == RequestStatus.PENDING.value,
                )
                .values(attempts=login_requests.c.attempts + 1)
            )

    def _fail(self, request_id: str, code: str, subject: str | None = None) -> None:
        values: dict[str, str] = {"status": RequestStatus.FAILED.value, "failure": code[:40]}
        if subject is not None:
            values["subject_id"] = subject
        with self.store.transaction() as s:
            s.execute(
                update(login_requests)
                .where(
                    login_requests.c.request_id == request_id,
                    login_requests.c.status == RequestStatus.PENDING.value,
                )
                .values(**values)
            )

    def _refused(self, request: LoginRequest, certificate: bytes, code: str) -> None:
        cert = load_certificate(certificate)
        subject = subject_id(cert.issuer, cert.serial_number)
        self._fail(request.request_id, code, subject)
        account = self.accounts.of_subject(subject)
        if account is not None:
            with self.store.transaction() as s:
                self.accounts.record(s, account.account_id, "login_refused", detail=code)

    # --- the waiting browser -------------------------------------------------------------------

    def collect(
        self, request_id: str, browser_secret: str | None, *, user_agent: str = ""
    ) -> Collected | None:
        """The session of an answered request, for the browser that made it; None if pending.

        ``LOGIN_NOT_THIS_BROWSER`` for any other browser, ``LOGIN_REQUEST_EXPIRED`` when the
        request or the time to collect its answer ran out, ``LOGIN_REQUEST_FAILED`` when the
        card was refused. A new session token every time (no session fixation).
        """
        now = self.clock.now()
        try:
            with self.store.transaction() as s:
                request = self._load(s, request_id)
                step = self._collect_step(request, browser_secret, now)
                if step == "wait":
                    return None
                if step == "done":
                    return Collected(request.next_path)  # a second poll: no second session
                assert request.account_id is not None
                assert request.subject_id is not None
                # One transaction: the request collected, the session, the login in the
                # history. A revocation followed meanwhile failed the request: nothing then.
                done = s.execute(
                    update(login_requests)
                    .where(
                        login_requests.c.request_id == request_id,
                        login_requests.c.status == RequestStatus.ANSWERED.value,
                    )
                    .values(status=RequestStatus.COLLECTED.value, collected_at=now)
                )
                if not getattr(done, "rowcount", 0):
                    raise _Lost
                token, session = self.sessions.create(
                    request.account_id, request.subject_id, user_agent=user_agent, within=s
                )
                self.accounts.record(
                    s, request.account_id, "login", session_id=session.session_id, detail="card"
                )
        except _Lost:
            current = self.get(request_id)
            if current.status is RequestStatus.COLLECTED:
                return Collected(current.next_path)  # a second poll at the same moment
            raise LoginRequestFailed("the card was refused", reason=current.failure or "") from None
        return Collected(request.next_path, token, session)

    def _collect_step(
        self, request: LoginRequest, browser_secret: str | None, now: dt.datetime
    ) -> str:
        """``make`` (the session, now), ``wait`` (pending) or ``done`` (collected already)."""
        if not self.owns(request, browser_secret):
            raise NotThisBrowser("this login request belongs to another browser")
        if request.status is RequestStatus.FAILED:
            raise LoginRequestFailed("the card was refused", reason=request.failure or "")
        if request.status is RequestStatus.COLLECTED:
            return "done"
        if request.status is RequestStatus.PENDING:
            if now >= request.expires_at:
                raise LoginRequestExpired("the login request has expired: start a new one")
            return "wait"
        assert request.answered_at is not None
        if now >= request.answered_at + COLLECT_WITHIN:
            raise LoginRequestExpired("the login was not completed in time: start again")
        return "make"

    # --- revocations ---------------------------------------------------------------------------

    def _issuer(self, kind: CertKind) -> x509.Name:
        found = self._issuers.get(kind)
        if found is None:
            assert self.revocations is not None
            found = self._issuers[kind] = self.revocations.ca_certificate(kind).subject
        return found

    def _cursor(self, s: Session) -> int:
        found = s.execute(
            select(cursors.c.position).where(cursors.c.name == REVOCATION_CURSOR)
        ).scalar()
        return int(found or 0)

    def _save_cursor(self, position: int) -> None:
        now = self.clock.now()
        try:
            with self.store.transaction() as s:
                changed = s.execute(
                    update(cursors)
                    .where(cursors.c.name == REVOCATION_CURSOR, cursors.c.position < position)
                    .values(position=position, updated_at=now)
                )
                if not getattr(changed, "rowcount", 0) and self._cursor(s) == 0:
                    s.execute(
                        insert(cursors).values(
                            name=REVOCATION_CURSOR, position=position, updated_at=now
                        )
                    )
        except IntegrityError:  # another process saved it first
            return

    def _behind(self) -> bool:
        """Whether the issuer's status moved past what this follower has acted on."""
        if self.revocations is None:
            return False
        if self._position is None:
            return True
        return self.revocations.status_position() > self._position

    def follow_revocations(self) -> int:
        """Act on the JPKI revocation log's new rows; how many sessions ended.

        For each user-authentication certificate revoked or suspended since the cursor:
        its cached status is dropped, its answered requests fail and its sessions end
        (``certificate_revoked``, recorded in the login history). A resumed certificate's
        cached status is dropped too.
        """
        if self.revocations is None:
            return 0
        ended = 0
        with self._follow_lock:
            if self._position is None:
                with self.store.transaction() as s:
                    self._position = self._cursor(s)
            # Only the rows the status answers already reflect: a status fetched after this
            # step is the new one (later rows are acted on in a later round).
            reached = self.revocations.status_position()
            entries = [
                e
                for e in self.revocations.revocation_changes(self._position, limit=FOLLOW_BATCH)
                if e.id <= reached
            ]
            for entry in entries:
                if entry.kind is not CertKind.AUTH:
                    continue
                issuer = self._issuer(entry.kind)
                if self.checker is not None:
                    self.checker.forget_certificate(issuer.public_bytes(), entry.serial)
                if entry.action is Action.RESUME:
                    continue
                code = CertSuspended.code if entry.action is Action.SUSPEND else CertRevoked.code
                ended += self.certificate_ended(subject_id(issuer, entry.serial), code)
            if entries:
                self._position = entries[-1].id
                self._save_cursor(self._position)
        return ended

    def certificate_ended(self, subject: str, code: str = CertRevoked.code) -> int:
        """A certificate was revoked or suspended: fail its answered requests, end its sessions."""
        with self.store.transaction() as s:
            s.execute(
                update(login_requests)
                .where(
                    login_requests.c.subject_id == subject,
                    login_requests.c.status == RequestStatus.ANSWERED.value,
                )
                .values(status=RequestStatus.FAILED.value, failure=code)
            )
        ended = self.sessions.end_for_subject(subject, EndReason.CERTIFICATE_REVOKED)
        if ended:
            account = self.accounts.of_subject(subject)
            if account is not None:
                with self.store.transaction() as s:
                    self.accounts.record(
                        s, account.account_id, "session_ended", detail=EndReason.CERTIFICATE_REVOKED
                    )
        return ended

    def maintain(self) -> int:
        """Periodic work (the platform's loop): follow revocations, drop old requests."""
        ended = self.follow_revocations()
        now = self.clock.now()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            with self.store.transaction() as s:
                s.execute(
                    delete(login_requests).where(login_requests.c.expires_at < now - KEEP_REQUESTS)
                )
        return ended
