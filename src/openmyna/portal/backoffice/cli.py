"""``openmyna backoffice staff …``: the staff register from the shell (the first administrator).

The pages let an administrator of a municipality grant and revoke roles there; someone has
to grant the first one. These commands are the installation operator's: each asks for the
operator token at a hidden prompt (never an option: shell history, the process list), as
the card counter's commands do, and is refused before anything opens without it.

The person is named by their own card, as at a login: the card signs a fresh challenge with
its user-authentication key (the holder types the PIN at a hidden prompt), the JPKI
verifier checks the certificate, its chain, policy and revocation status, and the portal's
account of that certificate (made at this first sight if the person never logged in) is the
one the role is granted to. ``--name`` is the name the register shows; without it, the name
the identity index holds for the card's holder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openmyna.builder import Builder
from openmyna.card import CardClient, open_transport
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.operator import operator_configured, require_operator
from openmyna.pki.verify import AuthResult
from openmyna.portal.accounts import Account
from openmyna.portal.backoffice.enrol import holder_account, holder_name
from openmyna.portal.backoffice.staff import OPERATOR, Role, StaffMember
from openmyna.registry import validate_lg_code

app = typer.Typer(
    help="The portal's back office for municipality staff.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
staff_app = typer.Typer(
    help="The staff register: roles per municipality (clerk, supervisor, administrator).",
    no_args_is_help=True,
)
app.add_typer(staff_app, name="staff")

LgCode = Annotated[str, typer.Option("--lg-code", "-m", help="The municipality (6 digits).")]
Reader = Annotated[
    str | None,
    typer.Option("--reader", "-r", help="The staff member's card: a card file, vpcd or pcsc."),
]


def _console() -> Console:
    return Console(soft_wrap=True)


def _parts() -> Builder:
    """The installation's parts (tests swap in stand-ins here)."""
    return Builder.from_environment()


def _operator(parts: Builder) -> None:
    """The operator token at a hidden prompt; refused without a configured token."""
    settings = parts.settings
    if not operator_configured(settings):
        require_operator(settings, None)  # NO_OPERATOR_CONFIGURED
    presented: str = typer.prompt("Operator token", hide_input=True)
    require_operator(settings, presented)


@contextmanager
def _installation() -> Iterator[Builder]:
    with _parts() as parts:
        _operator(parts)  # before anything else opens
        parts.registries()  # opened, the registries bring the identity index up to date
        yield parts


def _verified(parts: Builder, reader: str) -> tuple[AuthResult, Account]:
    """The card at ``reader`` proves its holder (PIN at a hidden prompt); their account."""
    with CardClient(open_transport(reader, settings=parts.settings)) as client:
        pin: str = typer.prompt("Staff member's auth PIN (4 digits)", hide_input=True)
        return holder_account(parts.portal(), client, pin)


def _line(m: StaffMember) -> str:
    return f"{m.lg_code} {m.role.value}: {m.name} (staff ID {m.account_id})"


@staff_app.command("grant")
def grant(
    lg_code: LgCode,
    role: Annotated[str, typer.Option("--role", help="clerk, supervisor or administrator.")],
    reader: Reader = None,
    name: Annotated[str | None, typer.Option("--name", help="The name the register shows.")] = None,
) -> None:
    """Grant a role at a municipality to the holder of a card (the operator token)."""
    validate_lg_code(lg_code)
    chosen = Role.parse(role)
    if reader is None:
        raise InvalidInput("name the staff member's card with --reader")
    with _installation() as parts:
        verified, account = _verified(parts, reader)
        shown = name or holder_name(parts.portal(), verified)
        member = parts.backoffice().staff.grant(lg_code, account.account_id, chosen, shown, by=None)
    _console().print(f"granted: {_line(member)}", markup=False)


@staff_app.command("list")
def list_(lg_code: LgCode) -> None:
    """List a municipality's staff (the operator token)."""
    validate_lg_code(lg_code)
    with _installation() as parts:
        register = parts.backoffice().staff
        members = register.members(lg_code)
        register.log(lg_code, None, OPERATOR, "staff.list")
    table = Table("role", "name", "staff ID", "granted", "by")
    for m in members:
        table.add_row(
            m.role.value, m.name, m.account_id, f"{m.granted_at:%Y-%m-%d %H:%M}", m.granted_by
        )
    _console().print(table)
    _console().print(f"{len(members)} member(s) of staff at {lg_code}", markup=False)


@staff_app.command("revoke")
def revoke(
    lg_code: LgCode,
    account: Annotated[
        str | None, typer.Option("--account", help="The staff ID (the portal account id).")
    ] = None,
    reader: Reader = None,
) -> None:
    """End a role at a municipality, by staff ID or by the holder's card (the operator token)."""
    validate_lg_code(lg_code)
    if (account is None) == (reader is None):
        raise InvalidInput("name the staff member by --account or by --reader")
    with _installation() as parts:
        if reader is not None:
            account = _verified(parts, reader)[1].account_id
        assert account is not None
        try:
            ended = parts.backoffice().staff.revoke(lg_code, account, by=None)
        except OpenMynaError as exc:
            parts.backoffice().staff.log(
                lg_code, None, OPERATOR, "staff.revoke", subject_kind="staff", outcome=exc.code
            )
            raise
    _console().print(f"revoked: {_line(ended)}", markup=False)


__all__ = ["app"]
