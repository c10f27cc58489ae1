"""``openmyna ekyc …``: the platform operator's commands, and the customer's ``sign``.

The operator's commands (``business add|list|suspend|resume``, ``key add|revoke``, ``audit``,
``bill``) ask for the installation's operator token at a hidden prompt, as the other
administrators' commands do, and are refused before anything opens without it. An API key
is printed once, when it is issued; the platform keeps only a hash of it.

``openmyna ekyc sign`` is the customer's side: the card (``--reader``: a card file, ``vpcd``
for the emulated card in pcscd, or ``pcsc`` for a real card in a reader) signs the
business's challenge with the signature key (the 6-16 character password), as a detached
CMS SignedData built around the card's own signature — the same code as ``openmyna card
sign-application`` (``openmyna.card.eapply_app.sign_document``).
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openmyna.builder import Builder
from openmyna.card import CardClient, open_transport
from openmyna.card.eapply_app import sign_document
from openmyna.clock import clock_from_setting
from openmyna.config import load_settings
from openmyna.ekyc.service import DEFAULT_PRICE_YEN, MAX_DATA_BYTES, Business, EkycPlatform
from openmyna.errors import InvalidInput
from openmyna.operator import operator_configured, require_operator

app = typer.Typer(
    help="JPKI identity verification for businesses (eKYC, H4): the platform operator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
business_app = typer.Typer(
    help="The businesses the operator verifies for (サービスプロバイダ事業者).",
    no_args_is_help=True,
)
key_app = typer.Typer(help="The businesses' API keys.", no_args_is_help=True)
app.add_typer(business_app, name="business")
app.add_typer(key_app, name="key")

BusinessId = Annotated[str, typer.Argument(help="The business's id (biz_…).")]


def _console() -> Console:
    return Console(soft_wrap=True)


def _parts() -> Builder:
    """The installation's parts (tests swap in stand-ins here)."""
    return Builder.from_environment()


@contextmanager
def _operator() -> Iterator[EkycPlatform]:
    """The platform, after the operator token at a hidden prompt (before anything opens)."""
    with _parts() as parts:
        settings = parts.settings
        if not operator_configured(settings):
            require_operator(settings, None)  # NO_OPERATOR_CONFIGURED
        presented: str = typer.prompt("Operator token", hide_input=True)
        require_operator(settings, presented)
        yield parts.ekyc()


def _line(b: Business) -> str:
    return f"{b.business_id} {b.status}: {b.name} ({b.contact}), {b.price_yen} yen per query"


@business_app.command("add")
def business_add(
    name: Annotated[str, typer.Option("--name", help="The business's name.")],
    contact: Annotated[str, typer.Option("--contact", help="Who to contact there.")],
    price_yen: Annotated[
        int, typer.Option("--price-yen", help="The price of one billed query, in yen.")
    ] = DEFAULT_PRICE_YEN,
) -> None:
    """Register a business and print its first API key (shown once)."""
    with _operator() as ekyc:
        business, key = ekyc.add_business(name, contact, price_yen=price_yen)
    out = _console()
    out.print(f"registered: {_line(business)}", markup=False)
    out.print(f"API key (shown once): {key.key}", markup=False)


@business_app.command("list")
def business_list() -> None:
    """List the registered businesses."""
    with _operator() as ekyc:
        found = ekyc.businesses()
    table = Table("id", "status", "name", "contact", "yen/query", "registered")
    for b in found:
        table.add_row(
            b.business_id, b.status, b.name, b.contact, str(b.price_yen), b.created_at.isoformat()
        )
    _console().print(table)


@business_app.command("suspend")
def business_suspend(business_id: BusinessId) -> None:
    """Suspend a business: its queries are refused (EKYC_BUSINESS_SUSPENDED)."""
    with _operator() as ekyc:
        done = ekyc.suspend(business_id)
    _console().print(f"suspended: {_line(done)}", markup=False)


@business_app.command("resume")
def business_resume(business_id: BusinessId) -> None:
    """Let a suspended business query again."""
    with _operator() as ekyc:
        done = ekyc.resume(business_id)
    _console().print(f"resumed: {_line(done)}", markup=False)


@key_app.command("add")
def key_add(business_id: BusinessId) -> None:
    """Issue another API key for a business (printed once)."""
    with _operator() as ekyc:
        key = ekyc.add_key(business_id)
    _console().print(f"API key {key.key_id} (shown once): {key.key}", markup=False)


@key_app.command("revoke")
def key_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key at once."""
    with _operator() as ekyc:
        ekyc.revoke_key(key_id)
    _console().print(f"revoked: API key {key_id}", markup=False)


@app.command("audit")
def audit(
    business_id: BusinessId,
    limit: Annotated[int, typer.Option("--limit", help="At most this many entries.")] = 50,
) -> None:
    """A business's audit log, newest first (what was checked, when, the result)."""
    with _operator() as ekyc:
        entries = ekyc.audit(business_id, limit=limit)
    table = Table("#", "when", "action", "result", "by", "certificate", "status", "billed")
    for e in entries:
        table.add_row(
            str(e.entry_id),
            e.recorded_at.isoformat(),
            e.action,
            e.result,
            e.actor,
            e.cert_serial or "",
            f"{e.cert_status} ({e.status_source})" if e.cert_status else "",
            f"{e.price_yen} yen" if e.billed else "",
        )
    _console().print(table)


@app.command("bill")
def bill(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (Japan time).")],
) -> None:
    """Each business's queries and billed amount in a month."""
    with _operator() as ekyc:
        lines = ekyc.bill(month)
    table = Table("id", "name", "month", "queries", "billed", "amount (yen)")
    for line in lines:
        table.add_row(
            line.business_id,
            line.name,
            line.month,
            str(line.queries),
            str(line.billed),
            str(line.amount_yen),
        )
    table.add_row(
        "total",
        "",
        month,
        "",
        str(sum(x.billed for x in lines)),
        str(sum(x.amount_yen for x in lines)),
    )
    _console().print(table)


# --- the customer's side ----------------------------------------------------------------


def _challenge(data: Path | None, challenge: str | None) -> bytes:
    if (data is None) == (challenge is None):
        raise InvalidInput("give the business's challenge: --challenge BASE64 or --data FILE")
    if data is not None:
        content = data.read_bytes()
    else:
        assert challenge is not None
        try:
            content = base64.b64decode(challenge, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the challenge is not base64") from None
    if not content or len(content) > MAX_DATA_BYTES:
        raise InvalidInput(f"the data to sign is 1-{MAX_DATA_BYTES} bytes")
    return content


@app.command("sign")
def sign(
    reader: Annotated[
        str,
        typer.Option(
            "--reader",
            "-r",
            help="A card file, or vpcd (the emulated card in pcscd) or pcsc (a real card).",
        ),
    ],
    challenge: Annotated[
        str | None, typer.Option("--challenge", help="The business's challenge, base64.")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Or a file to sign.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the CMS (DER) here.")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the signature password from standard input."),
    ] = False,
) -> None:
    """The customer signs a business's challenge with the card; prints the CMS in base64."""
    content = _challenge(data, challenge)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Signature password (6-16 characters)", hide_input=True)
    settings = load_settings()
    now = clock_from_setting(settings.clock).now()
    with CardClient(open_transport(reader, settings=settings)) as client:
        client.require_my_number_card()
        cms = sign_document(client, password, content, signing_time=now)
    if out is not None:
        out.write_bytes(cms)
    typer.echo(base64.b64encode(cms).decode("ascii"))
