"""The ``openmyna`` command. Each domain adds its own sub-command group here."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from openmyna.errors import OpenMynaError

app = typer.Typer(
    name="openmyna",
    help="openmyna: Japan's My Number system, runnable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register_groups() -> None:
    # Imported here so that each domain owns its commands (DESIGN: cli.py per domain).
    from openmyna.card.cli import app as card_app
    from openmyna.demo.cli import register as register_demo
    from openmyna.network.cli import app as network_app
    from openmyna.number_cli import app as number_app
    from openmyna.pki.cli import app as pki_app
    from openmyna.registry.cli import app as registry_app

    app.add_typer(number_app, name="number", help="Individual and corporate numbers (N1-N3).")
    app.add_typer(registry_app, name="registry", help="Resident registries (R1-R4).")
    app.add_typer(pki_app, name="pki", help="JPKI certificates, CRL and OCSP (J1-J3).")
    app.add_typer(card_app, name="card", help="The My Number Card (C1-C4).")
    app.add_typer(network_app, name="network", help="The Information Provision Network (X1-X6).")
    register_demo(app)


_register_groups()


def main() -> None:
    """Entry point: run the CLI, mapping domain errors to their exit codes."""
    try:
        app()  # standalone: usage errors exit 2, typer.Exit keeps its code
    except OpenMynaError as exc:
        err_console.print(exc.diagnostics(), markup=False, highlight=False)
        sys.exit(exc.exit_code)
