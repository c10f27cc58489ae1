"""The staff register (職員名簿) and the staff log: who may do what at which municipality.

A member of staff is a portal account — the person logs in with their own My Number Card,
as a citizen does (the card's use as a staff ID) — holding a role at a municipality
(``lg_code``). An account may hold a role at several municipalities, one at each. The roles
rank, and each includes what the one below may do (openmyna's rules; no national text fixes
a municipality's internal roles, each sets its own 事務分掌 and 決裁規程):

====================  =====================================================================
role                  may
====================  =====================================================================
``clerk`` 窓口職員    find and view residents (numbers masked), the registry's counter
                      notifications (転入, 転出, 転居, 氏名の変更), the card counter (交付,
                      暗証番号の初期化, 一時停止 and its lifting, 返納, 券面記載事項変更), and the
                      registry's personal-data API for the municipality
``supervisor`` 係長   also record a death (死亡: the record becomes a removed record and the
                      card loses effect, which no counter step undoes), and decide
                      applications (the e-application part's place: ``DECIDE_APPLICATIONS``)
``administrator``     also grant and revoke roles at the municipality, and read its staff log;
管理者                not their own grant (another administrator or the CLI does that)
====================  =====================================================================

Every action of staff — and every refusal — is a row of ``staff_log`` with the account and
the name that did it; the database keeps it append-only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.errors import InvalidInput
from openmyna.portal.backoffice.errors import (
    OwnGrantRefused,
    StaffNotFound,
    StaffRoleRequired,
    UnknownRole,
)
from openmyna.portal.backoffice.tables import staff_grants, staff_log
from openmyna.registry import validate_lg_code
from openmyna.store import Store

#: ``staff_log.account_id`` / ``granted_by`` of the installation's operator (the CLI).
OPERATOR = "operator"
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")


class Role(StrEnum):
    """A role in the staff register, lowest first."""

    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"

    @property
    def rank(self) -> int:
        """Its place: a role may do what every lower one may."""
        return list(Role).index(self)

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its name (``clerk``, ``supervisor``, ``administrator``)."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise UnknownRole("a role is clerk, supervisor or administrator") from None


class Permission(StrEnum):
    """What a back-office step needs; ``REQUIRES`` names the lowest role that has it."""

    READ_RESIDENTS = "read_residents"
    REGISTRY_COUNTER = "registry_counter"
    CARD_COUNTER = "card_counter"
    RECORD_DEATH = "record_death"
    DECIDE_APPLICATIONS = "decide_applications"
    VIEW_STAFF_LOG = "view_staff_log"
    MANAGE_STAFF = "manage_staff"


REQUIRES: dict[Permission, Role] = {
    Permission.READ_RESIDENTS: Role.CLERK,
    Permission.REGISTRY_COUNTER: Role.CLERK,
    Permission.CARD_COUNTER: Role.CLERK,
    Permission.RECORD_DEATH: Role.SUPERVISOR,
    Permission.DECIDE_APPLICATIONS: Role.SUPERVISOR,
    Permission.VIEW_STAFF_LOG: Role.ADMINISTRATOR,
    Permission.MANAGE_STAFF: Role.ADMINISTRATOR,
}


@dataclass(frozen=True)
class StaffMember:
    """A grant of the register: an account's role at one municipality."""

    account_id: str
    lg_code: str
    role: Role
    name: str
    granted_at: dt.datetime
    granted_by: str

    def may(self, permission: Permission) -> bool:
        """Whether the role allows ``permission``."""
        return self.role.rank >= REQUIRES[permission].rank

    @property
    def actor(self) -> str:
        """How other registers' audit logs name this member (no name: an opaque id)."""
        return f"staff:{self.account_id}"

    def __repr__(self) -> str:
        return f"StaffMember(lg_code={self.lg_code!r}, role={self.role.value!r})"


@dataclass(frozen=True)
class LogEntry:
    """One row of the staff log."""

    entry_id: int
    recorded_at: dt.datetime
    lg_code: str
    account_id: str | None
    actor_name: str
    action: str
    subject_kind: str | None
    subject: str | None
    detail: str
    outcome: str


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def checked_account_id(text: str) -> str:
    """A portal account id as the register keeps it (32 hex digits; spaces and dashes go)."""
    value = re.sub(r"[\s\-]", "", text or "").lower()
    if not _ACCOUNT_ID.match(value):
        raise StaffNotFound("a staff ID is 32 hexadecimal digits")
    return value


def checked_name(text: str) -> str:
    """A staff member's name for the register (1-64 characters)."""
    value = " ".join((text or "").split())
    if not value or len(value) > 64:
        raise InvalidInput("a staff member's name is 1-64 characters")
    return value


class StaffRegister:
    """The staff register and the staff log, in the back office's store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------

    def grants_of(self, account_id: str) -> list[StaffMember]:
        """Every grant an account holds, by municipality code."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(staff_grants)
                .where(staff_grants.c.account_id == account_id)
                .order_by(staff_grants.c.lg_code)
            ).mappings()
            return [self._member(r) for r in rows]

    def is_staff(self, account_id: str) -> bool:
        """Whether the account holds a role anywhere (the menu shows the back office)."""
        with self.store.transaction() as s:
            found = s.execute(
                select(staff_grants.c.lg_code)
                .where(staff_grants.c.account_id == account_id)
                .limit(1)
            ).first()
        return found is not None

    def grant_at(self, account_id: str, lg_code: str) -> StaffMember | None:
        """The account's grant at a municipality, if any."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(staff_grants).where(
                        staff_grants.c.account_id == account_id,
                        staff_grants.c.lg_code == lg_code,
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else self._member(row)

    def members(self, lg_code: str) -> list[StaffMember]:
        """A municipality's staff, highest role first, then by name."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(staff_grants).where(staff_grants.c.lg_code == lg_code)
            ).mappings()
            found = [self._member(r) for r in rows]
        return sorted(found, key=lambda m: (-m.role.rank, m.name, m.account_id))

    @staticmethod
    def _member(r: RowMapping) -> StaffMember:
        return StaffMember(
            account_id=r["account_id"],
            lg_code=r["lg_code"],
            role=Role(r["role"]),
            name=r["name"],
            granted_at=_aware(r["granted_at"]),
            granted_by=r["granted_by"],
        )

    # --- the check every step makes --------------------------------------------------------

    def require(self, account_id: str, lg_code: str, permission: Permission) -> StaffMember:
        """The account's grant at ``lg_code`` if it allows ``permission``; else refused.

        A refusal is itself logged (``STAFF_ROLE_REQUIRED``) under the account.
        """
        member = self.grant_at(account_id, lg_code)
        if member is not None and member.may(permission):
            return member
        self.log(
            lg_code,
            account_id,
            member.name if member is not None else "",
            f"refused.{permission.value}",
            outcome=StaffRoleRequired.code,
        )
        raise StaffRoleRequired(
            "this needs a staff role at the municipality",
            lg_code=lg_code,
            needs=REQUIRES[permission].value,
        )

    # --- grants ----------------------------------------------------------------------------

    def grant(
        self,
        lg_code: str,
        account_id: str,
        role: Role,
        name: str,
        *,
        by: StaffMember | None,
    ) -> StaffMember:
        """Give ``account_id`` the role at ``lg_code`` (replacing a role it held there).

        ``by`` is the administrator of that municipality (checked), or None for the
        installation's operator (the CLI, which checked the operator token).
        """
        validate_lg_code(lg_code)
        account_id = checked_account_id(account_id)
        name = checked_name(name)
        granted_by = self._check_manager(by, lg_code, account_id)
        now = self.clock.now()
        with self.store.transaction() as s:
            held = s.execute(
                select(staff_grants.c.role).where(
                    staff_grants.c.account_id == account_id, staff_grants.c.lg_code == lg_code
                )
            ).first()
            values = {"role": role.value, "name": name, "granted_at": now, "granted_by": granted_by}
            if held is None:
                s.execute(
                    insert(staff_grants).values(account_id=account_id, lg_code=lg_code, **values)
                )
            else:
                s.execute(
                    update(staff_grants)
                    .where(
                        staff_grants.c.account_id == account_id,
                        staff_grants.c.lg_code == lg_code,
                    )
                    .values(**values)
                )
            before = f"{held[0]} -> " if held is not None else ""
            self._log(
                s,
                lg_code,
                by.account_id if by is not None else None,
                by.name if by is not None else OPERATOR,
                "staff.grant",
                subject_kind="staff",
                subject=account_id,
                detail=f"{before}{role.value}",
            )
        member = self.grant_at(account_id, lg_code)
        assert member is not None
        return member

    def revoke(self, lg_code: str, account_id: str, *, by: StaffMember | None) -> StaffMember:
        """End ``account_id``'s role at ``lg_code``; the grant that ended."""
        validate_lg_code(lg_code)
        account_id = checked_account_id(account_id)
        self._check_manager(by, lg_code, account_id)
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(staff_grants).where(
                        staff_grants.c.account_id == account_id,
                        staff_grants.c.lg_code == lg_code,
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise StaffNotFound("that account holds no role at this municipality")
            ended = self._member(row)
            s.execute(
                delete(staff_grants).where(
                    staff_grants.c.account_id == account_id, staff_grants.c.lg_code == lg_code
                )
            )
            self._log(
                s,
                lg_code,
                by.account_id if by is not None else None,
                by.name if by is not None else OPERATOR,
                "staff.revoke",
                subject_kind="staff",
                subject=account_id,
                detail=ended.role.value,
            )
        return ended

    @staticmethod
    def _check_manager(by: StaffMember | None, lg_code: str, account_id: str) -> str:
        if by is None:
            return OPERATOR
        if by.lg_code != lg_code or not by.may(Permission.MANAGE_STAFF):
            raise StaffRoleRequired(
                "grants are made by an administrator of the municipality", lg_code=lg_code
            )
        if by.account_id == account_id:
            raise OwnGrantRefused("another administrator changes your own grant")
        return by.actor

    # --- the staff log ---------------------------------------------------------------------

    def log(
        self,
        lg_code: str,
        account_id: str | None,
        name: str,
        action: str,
        *,
        subject_kind: str | None = None,
        subject: str | None = None,
        detail: str = "",
        outcome: str = "done",
    ) -> None:
        """Append a row to the staff log (its own transaction)."""
        with self.store.transaction() as s:
            self._log(
                s,
                lg_code,
                account_id,
                name,
                action,
                subject_kind=subject_kind,
                subject=subject,
                detail=detail,
                outcome=outcome,
            )

    def _log(
        self,
        s: Session,
        lg_code: str,
        account_id: str | None,
        name: str,
        action: str,
        *,
        subject_kind: str | None = None,
        subject: str | None = None,
        detail: str = "",
        outcome: str = "done",
    ) -> None:
        s.execute(
            insert(staff_log).values(
                recorded_at=self.clock.now(),
                lg_code=lg_code[:6],
                account_id=account_id,
                actor_name=(name or account_id or OPERATOR)[:64],
                action=action[:40],
                subject_kind=subject_kind,
                subject=subject[:40] if subject else None,
                detail=detail[:200],
                outcome=outcome[:40],
            )
        )

    def entries(self, lg_code: str, *, limit: int = 200) -> list[LogEntry]:
        """The municipality's staff log, newest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(staff_log)
                .where(staff_log.c.lg_code == lg_code)
                .order_by(staff_log.c.entry_id.desc())
                .limit(limit)
            ).mappings()
            return [
                LogEntry(
                    entry_id=r["entry_id"],
                    recorded_at=_aware(r["recorded_at"]),
                    lg_code=r["lg_code"],
                    account_id=r["account_id"],
                    actor_name=r["actor_name"],
                    action=r["action"],
                    subject_kind=r["subject_kind"],
                    subject=r["subject"],
                    detail=r["detail"],
                    outcome=r["outcome"],
                )
                for r in rows
            ]
