"""代理人 (P8): grants, invitations, acting for a principal, and the proxy log.

- A principal grants a proxy scoped (``scopes.Scope``), time-limited access (at most a year,
  to the end of a day in Japan time). The grant names no one: the portal makes a one-time
  invitation code (shown once, kept only as its SHA-256, valid ``INVITATION_TTL``) that the
  principal hands over; the proxy redeems it after logging in with their own card. A person
  is never named by their individual number.
- The principal revokes a grant alone, at any time (as the real portal's 代理人解除 needs no
  word from the proxy); a grant also ends at its expiry. Either takes effect on the proxy's
  next request (``admit``), which drops the session back to the proxy's own.
- A proxy picks a grant to act under (``act``); the session then carries the principal and
  the grant, and every page request is checked by ``admit`` against the one path map
  (``scopes``), default-deny, and written to the append-only ``proxy_log`` (who, for whom,
  when, method and path, allowed or refused), which the principal reads on /proxy. The log
  holds account and grant ids and paths, never the number, a name or a label.
- Setting proxies is for one's own account only: while acting, every form of it is refused
  (a proxy never grants, redeems or revokes for the principal).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import JST, Clock
from openmyna.portal.proxy.errors import (
    GrantInvalid,
    GrantNotFound,
    InvitationInvalid,
    ProxyGrantEnded,
    ProxyNotAllowed,
    ProxyOutOfScope,
)
from openmyna.portal.proxy.scopes import Scope, allowed
from openmyna.portal.sessions import Acting, PortalSession, Sessions
from openmyna.portal.tables import proxy_grants, proxy_log
from openmyna.store import Store

#: How long an invitation code can be redeemed after the principal made it.
INVITATION_TTL = dt.timedelta(hours=72)
#: The longest a grant may run (this implementation's choice; see docs/portal.md).
MAX_GRANT_DAYS = 366
#: Letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L).
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 16
LABEL_MAX = 40
_SCOPE_VALUES = frozenset(s.value for s in Scope)
#: How many rows of the proxy log /proxy shows.
LOG_ROWS = 100


class GrantStatus(StrEnum):
    """Where a grant stands."""

    INVITED = "invited"
    INVITATION_EXPIRED = "invitation_expired"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Grant:
    """One grant of a principal to a proxy."""

    grant_id: str
    principal_id: str
    proxy_id: str | None
    proxy_label: str
    principal_label: str
    scopes: frozenset[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime
    invitation_expires_at: dt.datetime
    redeemed_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def status(self, now: dt.datetime) -> GrantStatus:
        """Where the grant stands at ``now``."""
        if self.revoked_at is not None:
            return GrantStatus.REVOKED
        if now >= self.expires_at:
            return GrantStatus.EXPIRED
        if self.proxy_id is None:
            if now >= self.invitation_expires_at:
                return GrantStatus.INVITATION_EXPIRED
            return GrantStatus.INVITED
        return GrantStatus.ACTIVE

    @property
    def last_day(self) -> dt.date:
        """The last day (Japan time) the grant is valid."""
        return (self.expires_at.astimezone(JST) - dt.timedelta(seconds=1)).date()


@dataclass(frozen=True)
class LogEntry:
    """One row of the proxy log."""

    recorded_at: dt.datetime
    grant_id: str
    principal_id: str
    proxy_id: str
    action: str
    outcome: str
    method: str
    path: str
    scope: str


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _maybe(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _aware(value)


def _grant(row: RowMapping) -> Grant:
    return Grant(
        grant_id=row["grant_id"],
        principal_id=row["principal_id"],
        proxy_id=row["proxy_id"],
        proxy_label=row["proxy_label"],
        principal_label=row["principal_label"],
        scopes=frozenset(Scope(x) for x in row["scopes"].split() if x in _SCOPE_VALUES),
        created_at=_aware(row["created_at"]),
        expires_at=_aware(row["expires_at"]),
        invitation_expires_at=_aware(row["invitation_expires_at"]),
        redeemed_at=_maybe(row["redeemed_at"]),
        revoked_at=_maybe(row["revoked_at"]),
    )


def normalise_code(code: str) -> str:
    """An invitation code as typed (any case, spaces and hyphens) in its stored form."""
    return "".join(c for c in unicodedata.normalize("NFKC", code).upper() if c.isalnum())


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "replace")).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    while raw.isdigit():  # never mistaken for a number (1 in 10^9; drawn again)
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_LENGTH, 4))


def checked_label(value: str, what: str) -> str:
    """A name typed by the principal: 1-40 characters, no control characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if not text or len(text) > LABEL_MAX:
        raise GrantInvalid(f"the {what} must be 1 to {LABEL_MAX} characters", field=what)
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise GrantInvalid(f"the {what} has a control character", field=what)
    return text


def checked_scopes(chosen: list[str]) -> frozenset[Scope]:
    """The scopes a form chose: at least one, each known."""
    if not chosen:
        raise GrantInvalid("choose at least one thing the proxy may do", field="scopes")
    try:
        return frozenset(Scope(c) for c in chosen)
    except ValueError:
        raise GrantInvalid("unknown scope", field="scopes") from None


class Proxies:
    """The portal's proxy grants and log, in the portal's store."""

    def __init__(self, store: Store, clock: Clock, sessions: Sessions) -> None:
        self.store = store
        self.clock = clock
        self.sessions = sessions

    # -- the principal -------------------------------------------------------------------

    @staticmethod
    def _own(session: PortalSession) -> str:
        """The session's own account, refusing a session that acts for someone."""
        if session.acting is not None or session.acting_grant is not None:
            raise ProxyNotAllowed("proxy settings are for your own account: act as yourself first")
        return session.account_id

    def last_day_allowed(self) -> dt.date:
        """The latest last day a grant made today may have."""
        return self.clock.now().astimezone(JST).date() + dt.timedelta(days=MAX_GRANT_DAYS - 1)

    def create(
        self,
        session: PortalSession,
        *,
        proxy_label: str,
        principal_label: str,
        scopes: list[str],
        last_day: dt.date,
    ) -> tuple[Grant, str]:
        """A new grant and its one-time invitation code (shown to the principal once)."""
        principal = self._own(session)
        now = self.clock.now()
        today = now.astimezone(JST).date()
        if not today <= last_day <= self.last_day_allowed():
            raise GrantInvalid("the last day must be from today to a year from now", field="day")
        chosen = checked_scopes(scopes)
        code = _new_code()
        values = {
            "grant_id": secrets.token_hex(16),
            "principal_id": principal,
            "proxy_id": None,
            "proxy_label": checked_label(proxy_label, "proxy_label"),
            "principal_label": checked_label(principal_label, "principal_label"),
            "scopes": " ".join(sorted(s.value for s in chosen)),
            "invitation_hash": _code_hash(code),
            "invitation_expires_at": now + INVITATION_TTL,
            "created_at": now,
            # To the end of the last day in Japan time.
            "expires_at": dt.datetime.combine(
                last_day + dt.timedelta(days=1), dt.time(), JST
            ).astimezone(dt.UTC),
            "redeemed_at": None,
            "revoked_at": None,
        }
        with self.store.transaction() as s:
            s.execute(insert(proxy_grants).values(**values))
            row = s.execute(
                select(proxy_grants).where(proxy_grants.c.grant_id == values["grant_id"])
            ).mappings()
            return _grant(row.one()), code

    def revoke(self, session: PortalSession, grant_id: str) -> Grant:
        """Revoke one of the principal's grants (at once; the proxy's next request sees it)."""
        principal = self._own(session)
        with self.store.transaction() as s:
            found = self._get(s, grant_id)
            if found is None or found.principal_id != principal:
                raise GrantNotFound("no such grant")
            if found.revoked_at is None:
                s.execute(
                    update(proxy_grants)
                    .where(proxy_grants.c.grant_id == grant_id)
                    .values(revoked_at=self.clock.now())
                )
            updated = self._get(s, grant_id)
        assert updated is not None
        return updated

    def given(self, account_id: str) -> list[Grant]:
        """The grants a principal made, newest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(proxy_grants)
                .where(proxy_grants.c.principal_id == account_id)
                .order_by(proxy_grants.c.created_at.desc(), proxy_grants.c.grant_id)
            ).mappings()
            return [_grant(r) for r in rows]

    def log_for(self, principal_id: str, *, limit: int = LOG_ROWS) -> list[LogEntry]:
        """What proxies did for a principal, newest first."""
        return self._log_rows(proxy_log.c.principal_id == principal_id, limit)

    # -- the proxy -----------------------------------------------------------------------

    def redeem(self, session: PortalSession, code: str) -> Grant:
        """Redeem an invitation code: the grant is the session's person's, once."""
        proxy = self._own(session)
        now = self.clock.now()
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(proxy_grants).where(proxy_grants.c.invitation_hash == _code_hash(code))
                )
                .mappings()
                .first()
            )
            found = None if row is None else _grant(row)
            if found is None or found.status(now) is not GrantStatus.INVITED:
                raise InvitationInvalid("the invitation code is unknown, used or expired")
            if found.principal_id == proxy:
                raise InvitationInvalid("you cannot be your own proxy")
            done = s.execute(
                update(proxy_grants)
                .where(proxy_grants.c.grant_id == found.grant_id, proxy_grants.c.proxy_id.is_(None))
                .values(proxy_id=proxy, redeemed_at=now)
            )
            if not getattr(done, "rowcount", 0):
                raise InvitationInvalid("the invitation code is unknown, used or expired")
            updated = self._get(s, found.grant_id)
        assert updated is not None
        return updated

    def held(self, account_id: str) -> list[Grant]:
        """The grants a proxy holds (redeemed by them), newest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(proxy_grants)
                .where(proxy_grants.c.proxy_id == account_id)
                .order_by(proxy_grants.c.redeemed_at.desc(), proxy_grants.c.grant_id)
            ).mappings()
            return [_grant(r) for r in rows]

    def act(self, session: PortalSession, grant_id: str) -> Grant:
        """The session starts acting for the grant's principal."""
        proxy = self._own(session)
        now = self.clock.now()
        with self.store.transaction() as s:
            found = self._get(s, grant_id)
            if found is None or found.proxy_id != proxy:
                raise GrantNotFound("no such grant")
            if found.status(now) is not GrantStatus.ACTIVE:
                raise InvitationInvalid("the grant has ended")
            self.sessions.act(s, session.session_id, found.principal_id, found.grant_id)
            self._log(s, found.grant_id, found.principal_id, proxy, "start", True, "POST", "")
        return found

    def stop(self, session: PortalSession) -> None:
        """The session acts as its own person again."""
        with self.store.transaction() as s:
            self.sessions.stop_acting(s, session.session_id)
            if session.acting_grant is not None and session.acting_for is not None:
                self._log(
                    s,
                    session.acting_grant,
                    session.acting_for,
                    session.own_account_id,
                    "stop",
                    True,
                    "POST",
                    "",
                )

    # -- every request while acting ------------------------------------------------------

    def admit(self, session: PortalSession, method: str, path: str) -> PortalSession:
        """The session a page sees: the principal's if the grant is live and opens ``path``.

        Records the request (allowed or refused). ``PROXY_GRANT_ENDED`` if the grant was
        revoked or expired (the session is the proxy's own again); ``PROXY_OUT_OF_SCOPE`` if
        the path is not in the grant's scopes or in no scope at all.
        """
        grant_id, principal = session.acting_grant, session.acting_for
        if grant_id is None or principal is None:
            return session
        proxy = session.account_id
        now = self.clock.now()
        with self.store.transaction() as s:
            found = self._get(s, grant_id)
            live = (
                found is not None
                and found.proxy_id == proxy
                and found.principal_id == principal
                and found.status(now) is GrantStatus.ACTIVE
            )
            if not live or found is None:
                self.sessions.stop_acting(s, session.session_id)
                self._log(s, grant_id, principal, proxy, "ended", False, method, path)
            else:
                scopes = frozenset(x.value for x in found.scopes)
                ok, rule = allowed(method, path, scopes)
                scope = rule.scope.value if rule is not None and rule.scope is not None else ""
                self._log(s, grant_id, principal, proxy, "request", ok, method, path, scope)
        if not live or found is None:
            own = dataclasses.replace(session, acting_for=None, acting_grant=None)
            raise ProxyGrantEnded("the access you were given has ended", session=own)
        acting = Acting(grant_id, proxy, found.principal_label, scopes)
        admitted = dataclasses.replace(session, account_id=principal, acting=acting)
        if not ok:
            raise ProxyOutOfScope("this page is not among what you may do", session=admitted)
        return admitted

    # -- rows ----------------------------------------------------------------------------

    @staticmethod
    def _get(s: Session, grant_id: str) -> Grant | None:
        row = (
            s.execute(select(proxy_grants).where(proxy_grants.c.grant_id == grant_id))
            .mappings()
            .first()
        )
        return None if row is None else _grant(row)

    def _log(
        self,
        s: Session,
        grant_id: str,
        principal: str,
        proxy: str,
        action: str,
        ok: bool,
        method: str,
        path: str,
        scope: str = "",
    ) -> None:
        s.execute(
            insert(proxy_log).values(
                grant_id=grant_id,
                principal_id=principal,
                proxy_id=proxy,
                recorded_at=self.clock.now(),
                action=action,
                outcome="allowed" if ok else "refused",
                method=method.upper()[:8],
                path=path[:200],
                scope=scope,
            )
        )

    def _log_rows(self, condition: ColumnElement[bool], limit: int) -> list[LogEntry]:
        with self.store.transaction() as s:
            rows = s.execute(
                select(proxy_log).where(condition).order_by(proxy_log.c.seq.desc()).limit(limit)
            ).mappings()
            return [
                LogEntry(
                    recorded_at=_aware(r["recorded_at"]),
                    grant_id=r["grant_id"],
                    principal_id=r["principal_id"],
                    proxy_id=r["proxy_id"],
                    action=r["action"],
                    outcome=r["outcome"],
                    method=r["method"],
                    path=r["path"],
                    scope=r["scope"],
                )
                for r in rows
            ]
