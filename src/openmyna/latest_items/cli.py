"""``openmyna latest-items business …``: the register of businesses, for the operator.

A business uses the latest-4-items service only once the installation's operator has
registered it (in the real service: J-LIS, after its agreement with the business). Each
command asks for the operator token at a hidden prompt (never an option: shell history, the
process list), as the back office's staff commands do, and is refused before anything
opens without it. ``add`` prints the business's API key and webhook secret once: the
database keeps only the key's hash, and the secret is derived from the service's key file.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openmyna.builder import Builder
from openmyna.operator import operator_configured, require_operator

app = typer.Typer(
    help="The latest-4-items service (最新の4情報提供サービス).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
business_app = typer.Typer(help="Businesses that use the service.", no_args_is_help=True)
app.add_typer(business_app, name="business")


def _console() -> Console:
    return Console(soft_wrap=True)


def _parts() -> Builder:
    """The installation's parts (tests swap in stand-ins here)."""
    return Builder.from_environment()


def _operator(parts: Builder) -> None:
    settings = parts.settings
    if not operator_configured(settings):
        require_operator(settings, None)  # NO_OPERATOR_CONFIGURED
    presented: str = typer.prompt("Operator token", hide_input=True)
    require_operator(settings, presented)


@business_app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="The business's name (Japanese).")],
    name_en: Annotated[
        str | None, typer.Option("--name-en", help="The business's name in English.")
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", help="Where changes are posted (https; http to localhost)."),
    ] = None,
) -> None:
    """Register a business; prints its id, API key and webhook secret (shown once)."""
    with _parts() as parts:
        _operator(parts)
        registered = parts.latest_items().businesses.register(
            name, name_en=name_en, webhook_url=webhook_url
        )
    console = _console()
    console.print(f"business id: {registered.business.business_id}", markup=False)
    console.print(f"API key: {registered.api_key}", markup=False)
    console.print(f"webhook secret: {registered.webhook_secret}", markup=False)
    console.print("Keep both secrets now: they are not shown again.", markup=False)


@business_app.command("list")
def list_() -> None:
    """List the registered businesses (no secrets)."""
    with _parts() as parts:
        _operator(parts)
        found = parts.latest_items().businesses.all()
    table = Table("business id", "name", "webhook", "registered")
    for b in found:
        table.add_row(
            b.business_id, b.name, b.webhook_url or "(polling)", b.registered_at.isoformat()
        )
    _console().print(table)
