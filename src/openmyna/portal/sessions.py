"""Server-side sessions of the portal: secure cookies, CSRF tokens, idle and absolute expiry.

The cookie carries a random token (32 bytes, base64url) that the server stores only as its
SHA-256, so a copy of the table logs no one in. Every login creates a new token (no session
fixation: a token is never taken from the client before it was issued). A session ends at
logout, after ``session_idle`` without a request, ``session_absolute`` after the login
however active, when the person ends it from their account page, and when its certificate
is revoked or suspended (``end_for_subject``).

State-changing requests carry the session's CSRF token (a form field or the ``X-CSRF-Token``
header, which htmx sends); ``check_csrf`` compares it in constant time.

A session may act for another person as their proxy (代理人, ``portal.proxy``): the table
keeps the principal's account and the grant (``act`` / ``stop_acting``). ``current`` returns
the session as its own person's (``account_id`` is the one who logged in); only the pages'
central check (``Proxies.admit``) turns it into the principal's, with ``acting`` set, after
checking the grant and the scope of the path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.config import PortalSettings
from openmyna.portal.errors import CsrfRefused, LoginRequired, SessionEnded
from openmyna.portal.tables import sessions
from openmyna.store import Store

COOKIE = "omyna_session"
#: A session's last-seen time is written at most this often (one write per minute, not per page).
TOUCH_EVERY = dt.timedelta(minutes=1)


class EndReason(StrEnum):
    """Why a session ended."""

    LOGOUT = "logout"
    IDLE = "idle"
    EXPIRED = "expired"
    ENDED_BY_USER = "ended_by_user"
    CERTIFICATE_REVOKED = "certificate_revoked"


@dataclass(frozen=True)
class Acting:
    """A proxy acting for a principal (代理人), once the grant and the path were checked."""

    grant_id: str
    #: The account of the person who logged in (the proxy).
    proxy_account_id: str
    #: How the proxy sees the principal (the principal's own words).
    principal_label: str
    #: The scopes of the grant (``portal.proxy.scopes.Scope`` values).
    scopes: frozenset[str]


@dataclass(frozen=True)
class PortalSession:
    """A live session of one account (``account_id``: whose data the pages show)."""

    session_id: str
    account_id: str
    subject_id: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str
    #: The principal and grant the session acts for (as stored), if it acts as a proxy.
    acting_for: str | None = None
    acting_grant: str | None = None
    #: Set only by the pages' check (``Proxies.admit``): ``account_id`` is then the principal's.
    acting: Acting | None = None

    @property
    def own_account_id(self) -> str:
        """The account of the person who logged in (the proxy's own while acting)."""
        return self.acting.proxy_account_id if self.acting else self.account_id


def token_hash(token: str) -> str:
    """What the table keeps of a cookie's token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _session(row: RowMapping) -> PortalSession:
    return PortalSession(
        session_id=row["session_id"],
        account_id=row["account_id"],
        subject_id=row["subject_id"],
        csrf_token=row["csrf_token"],
        created_at=_aware(row["created_at"]),
        last_seen_at=_aware(row["last_seen_at"]),
        expires_at=_aware(row["expires_at"]),
        user_agent=row["user_agent"],
        acting_for=row["acting_for"],
        acting_grant=row["acting_grant"],
    )


class Sessions:
    """The portal's sessions, in its store, timed by ``clock``."""

    def __init__(self, store: Store, clock: Clock, settings: PortalSettings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings

    def create(
        self,
        account_id: str,
        subject_id: str,
        *,
        user_agent: str = "",
        within: Session | None = None,
    ) -> tuple[str, PortalSession]:
        """A new session (a new token every time); the token for the cookie and the session.

        ``within``: a transaction of the portal's store to make it in (with what else the
        login writes); by default its own.
        """
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        made = PortalSession(
            session_id=secrets.token_hex(16),
            account_id=account_id,
            subject_id=subject_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.settings.session_absolute,
            user_agent=user_agent[:120],
        )
        row = insert(sessions).values(
            token_hash=token_hash(token),
            session_id=made.session_id,
            account_id=made.account_id,
            subject_id=made.subject_id,
            csrf_token=made.csrf_token,
            created_at=made.created_at,
            last_seen_at=made.last_seen_at,
            expires_at=made.expires_at,
            user_agent=made.user_agent,
        )
        if within is not None:
            within.execute(row)
        else:
            with self.store.transaction() as s:
                s.execute(row)
        return token, made

    def current(self, token: str | None) -> PortalSession:
        """The live session of a cookie's token; ``LOGIN_REQUIRED`` / ``SESSION_ENDED`` if none.

        Ends the session if it was idle too long or reached its absolute limit, and records
        the request (at most once a minute) for the idle limit.
        """
        if not token:
            raise LoginRequired("log in with your My Number Card")
        now = self.clock.now()
        with self.store.transaction() as s:
            row = (
                s.execute(select(sessions).where(sessions.c.token_hash == token_hash(token)))
                .mappings()
                .first()
            )
            if row is None:
                raise LoginRequired("log in with your My Number Card")
            if row["ended_at"] is not None:
                raise SessionEnded("the session has ended", reason=row["ended_reason"])
            found = _session(row)
            reason = None
            if now >= found.expires_at:
                reason = EndReason.EXPIRED
            elif now - found.last_seen_at >= self.settings.session_idle:
                reason = EndReason.IDLE
            if reason is not None:
                self._end(s, sessions.c.session_id == found.session_id, reason, now)
            elif now - found.last_seen_at >= TOUCH_EVERY:
                s.execute(
                    update(sessions)
                    .where(sessions.c.session_id == found.session_id)
                    .values(last_seen_at=now)
                )
        if reason is not None:
            raise SessionEnded("the session has ended", reason=reason.value)
        return found

    @staticmethod
    def _end(
        s: Session, condition: ColumnElement[bool], reason: EndReason, now: dt.datetime
    ) -> int:
        result = s.execute(
            update(sessions)
            .where(condition, sessions.c.ended_at.is_(None))
            .values(ended_at=now, ended_reason=reason.value)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def end(self, session_id: str, reason: EndReason = EndReason.LOGOUT) -> bool:
        """End one session; False if it had ended already."""
        with self.store.transaction() as s:
            return self._end(s, sessions.c.session_id == session_id, reason, self.clock.now()) > 0

    def end_for_account(
        self, account_id: str, session_id: str, reason: EndReason = EndReason.ENDED_BY_USER
    ) -> bool:
        """End one of the account's own sessions (the account page); False if not live."""
        with self.store.transaction() as s:
            condition = (sessions.c.session_id == session_id) & (
                sessions.c.account_id == account_id
            )
            return self._end(s, condition, reason, self.clock.now()) > 0

    def end_for_subject(
        self, subject_id: str, reason: EndReason = EndReason.CERTIFICATE_REVOKED
    ) -> int:
        """End every session a certificate opened (it was revoked or suspended); how many."""
        with self.store.transaction() as s:
            return self._end(s, sessions.c.subject_id == subject_id, reason, self.clock.now())

    def act(self, s: Session, session_id: str, principal_id: str, grant_id: str) -> None:
        """Make a live session act for ``principal_id`` under ``grant_id`` (inside ``s``)."""
        s.execute(
            update(sessions)
            .where(sessions.c.session_id == session_id, sessions.c.ended_at.is_(None))
            .values(acting_for=principal_id, acting_grant=grant_id)
        )

    def stop_acting(self, s: Session, session_id: str) -> None:
        """The session acts as its own person again (inside ``s``)."""
        s.execute(
            update(sessions)
            .where(sessions.c.session_id == session_id)
            .values(acting_for=None, acting_grant=None)
        )

    def live(self, account_id: str) -> list[PortalSession]:
        """The account's sessions that have not ended nor passed a limit, newest first."""
        now = self.clock.now()
        with self.store.transaction() as s:
            rows = s.execute(
                select(sessions)
                .where(sessions.c.account_id == account_id, sessions.c.ended_at.is_(None))
                .order_by(sessions.c.created_at.desc())
            ).mappings()
            found = [_session(r) for r in rows]
        return [
            x
            for x in found
            if now < x.expires_at and now - x.last_seen_at < self.settings.session_idle
        ]


def check_csrf(session: PortalSession, presented: str | None) -> None:
    """Refuse (``CSRF_REFUSED``) a state-changing request without the session's token."""
    if not presented or not hmac.compare_digest(
        presented.encode("utf-8", "replace"), session.csrf_token.encode("ascii")
    ):
        raise CsrfRefused("the form is out of date or came from another site: reload the page")
