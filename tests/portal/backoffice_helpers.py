"""Helpers of the back-office tests (imported as a plain module): staff members, logged in."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from portal_helpers import MAEBASHI, Holder, holder, login

from openmyna.card import CardFile
from openmyna.platform import Platform
from openmyna.portal.backoffice.cards import DEMO_FOLDER
from openmyna.portal.backoffice.staff import Role, StaffMember
from openmyna.portal.sessions import COOKIE, PortalSession
from openmyna.registry import NewPerson, Resident, Sex

KOBE = "281000"
#: One 区分A document: enough for every counter step.
PASSPORT = {"documents": ["旅券"]}


@dataclass(frozen=True)
class Staff:
    """A member of staff: their card, their grant, the session on the test client."""

    person: Holder
    member: StaffMember
    session: PortalSession


def staff(
    platform: Platform,
    client: TestClient,
    role: Role = Role.CLERK,
    lg_code: str = MAEBASHI,
    *,
    family: str = "鈴木",
    given: str = "一郎",
) -> Staff:
    """A resident with a card, logged in on ``client``, granted ``role`` at ``lg_code``."""
    person = holder(platform, family, given)
    account = login(platform, client, person.card)
    member = platform.backoffice.staff.grant(
        lg_code, account.account_id, role, f"{family} {given}", by=None
    )
    token = client.cookies.get(COOKIE)
    assert token is not None
    return Staff(person, member, platform.portal.sessions.current(token))


def kobe_resident(platform: Platform, family: str = "田中", given: str = "一郎") -> Resident:
    """A resident of 神戸市 (its registry added if needed)."""
    regs = platform.registries
    if not any(m.lg_code == KOBE for m in regs.list_municipalities()):
        regs.add_municipality(KOBE)
    person = NewPerson(family, given, "タナカ", "イチロウ", dt.date(1990, 6, 7), Sex.MALE)
    r = regs.municipality(KOBE).move_in_from_abroad(
        person, on=platform.clock.today(), address="兵庫県神戸市中央区加納町六丁目5番1号"
    )
    platform.sync_once()
    return r


def csrf(text: str) -> str:
    """The CSRF token of a page."""
    return text.split('name="csrf_token" value="')[1].split('"')[0]


def handles(text: str, lg_code: str = MAEBASHI) -> list[str]:
    """The resident handles linked from a page, in order."""
    return re.findall(rf"/backoffice/{lg_code}/residents/([0-9a-f]{{32}})", text)


def find(client: TestClient, name: str, lg_code: str = MAEBASHI) -> str:
    """Search for ``name`` on the desk; the first result's handle."""
    desk = client.get(f"/backoffice/{lg_code}")
    assert desk.status_code == 200, desk.text
    found = client.post(
        f"/backoffice/{lg_code}/search", data={"name": name, "csrf_token": csrf(desk.text)}
    )
    assert found.status_code == 200, found.text
    return handles(found.text, lg_code)[0]


def at_the_counter(platform: Platform, card_holder: Holder, name: str = "holder.card") -> Path:
    """The holder's card as a card file in the counter's demo-card folder."""
    folder = platform.settings.data_dir / DEMO_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    CardFile.create(path, card_holder.card, settings=platform.settings).close()
    return path
