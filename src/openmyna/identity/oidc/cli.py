"""``openmyna oidc client add|list|remove``: the provider's clients, registered by the operator.

Like the other administrators' commands, each asks for the operator token at a hidden prompt
(never an option: shell history, the process list) and is refused before anything opens
without it. ``add`` prints the client id and, for ``client_secret_basic``, the secret: once,
as only its hash is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openmyna.builder import Builder
from openmyna.errors import InvalidInput
from openmyna.identity.oidc.service import Oidc
from openmyna.operator import operator_configured, require_operator

app = typer.Typer(
    help="The OpenID Connect provider for businesses (デジタル認証アプリ's role).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
client_app = typer.Typer(help="The provider's clients (relying parties).", no_args_is_help=True)
app.add_typer(client_app, name="client")

MAX_JWKS_BYTES = 64 * 1024


def _parts() -> Builder:
    """The installation's parts (tests swap in stand-ins here)."""
    return Builder.from_environment()


@contextmanager
def _provider() -> Iterator[Oidc]:
    with _parts() as parts:
        settings = parts.settings
        if not operator_configured(settings):
            require_operator(settings, None)  # NO_OPERATOR_CONFIGURED
        presented: str = typer.prompt("Operator token", hide_input=True)
        require_operator(settings, presented)
        yield parts.oidc()


@client_app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="The business's name, shown on consent.")],
    redirect_uri: Annotated[
        list[str], typer.Option("--redirect-uri", help="A redirect URI (exact; repeatable).")
    ],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A scope it may ask for (repeatable; openid always)."),
    ] = None,
    auth: Annotated[
        str, typer.Option("--auth", help="private_key_jwt or client_secret_basic.")
    ] = "private_key_jwt",
    jwks: Annotated[
        Path | None, typer.Option("--jwks", help="Its public keys (JWKS) for private_key_jwt.")
    ] = None,
    contact: Annotated[str, typer.Option("--contact", help="Whom people can ask.")] = "",
) -> None:
    """Register a client: print its id (and, for client_secret_basic, its secret, once)."""
    keys: str | None = None
    if jwks is not None:
        try:
            data = jwks.read_bytes()
        except OSError:
            raise InvalidInput("the JWKS file cannot be read") from None
        if len(data) > MAX_JWKS_BYTES:
            raise InvalidInput("the JWKS file is too large")
        keys = data.decode("utf-8", "replace")
    with _provider() as oidc:
        client, secret = oidc.clients.add(
            name, redirect_uri, scopes=scope, auth_method=auth, jwks=keys, contact=contact
        )
    typer.echo(f"client_id: {client.client_id}")
    if secret is not None:
        typer.echo(f"client_secret: {secret}")
        typer.echo("The secret is shown once: only its hash is kept.", err=True)


@client_app.command("list")
def list_clients() -> None:
    """The registered clients."""
    with _provider() as oidc:
        found = oidc.clients.list()
    table = Table("client_id", "name", "auth", "scopes", "redirect URIs")
    for c in found:
        table.add_row(
            c.client_id, c.name, c.auth_method, " ".join(c.scopes), "\n".join(c.redirect_uris)
        )
    Console(soft_wrap=True).print(table)


@client_app.command("remove")
def remove(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """Remove a client: its requests and tokens are refused from then on."""
    with _provider() as oidc:
        oidc.clients.remove(client_id)
    typer.echo(f"removed: {client_id}")
