"""The portal's menu: each page that belongs in it, in order, with its label (Japanese).

A page is listed only when the app serves its path (``visible``), so a part of the portal
that is not built yet never shows a link. Labels are gettext messages (``N_`` marks them for
extraction; templates translate them with ``_``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional marker name
    """Mark ``message`` for the catalogue without translating it here."""
    return message


@dataclass(frozen=True)
class NavItem:
    """One entry of the menu."""

    path: str
    label: str
    #: Shown only to a logged-in person.
    login: bool = True
    #: Shown only to an account holding a back-office role (``portal.backoffice``).
    staff: bool = False


NAV: tuple[NavItem, ...] = (
    NavItem("/", N_("ホーム"), login=False),
    NavItem("/records", N_("やりとり履歴")),
    NavItem("/my-data", N_("自己情報")),
    NavItem("/notices", N_("お知らせ")),
    NavItem("/services", N_("申請")),
    NavItem("/moving", N_("引越し")),
    NavItem("/payments", N_("公金決済")),
    NavItem("/proxy", N_("代理人")),
    NavItem("/consents", N_("同意")),
    NavItem("/account", N_("アカウント")),
    NavItem("/statistics", N_("統計"), login=False),
    NavItem("/backoffice", N_("職員業務"), staff=True),
)


@dataclass(frozen=True)
class MenuBadge:
    """A count beside a menu entry (unread notices), with its words for screen readers."""

    count: int
    #: A message with ``%(count)d`` (``N_``-marked by the part that makes the badge).
    label: str


def visible(served: Iterable[str], *, logged_in: bool, staff: bool = False) -> list[NavItem]:
    """The menu entries whose page the app serves, for a visitor, a person or staff."""
    paths = set(served)
    return [
        n for n in NAV if n.path in paths and (logged_in or not n.login) and (staff or not n.staff)
    ]
