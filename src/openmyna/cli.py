"""The ``openmyna`` command. Each domain adds its own sub-command group here.

Groups are imported only when they are used: ``openmyna network hub`` loads the network's
commands and nothing of the card, the demo or the web app. ``openmyna --help`` (or an
unknown word) loads them all, to list them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console

from openmyna.errors import OpenMynaError

err_console = Console(stderr=True)

#: name -> (module, attribute, help). ``demo`` adds the top-level ``demo`` and ``serve``.
GROUPS: dict[str, tuple[str, str, str]] = {
    "number": ("openmyna.number_cli", "app", "Individual and corporate numbers (N1-N3)."),
    "registry": ("openmyna.registry.cli", "app", "Resident registries (R1-R4)."),
    "pki": ("openmyna.pki.cli", "app", "JPKI certificates, CRL and OCSP (J1-J3)."),
    "card": ("openmyna.card.cli", "app", "The My Number Card (C1-C4)."),
    "network": ("openmyna.network.cli", "app", "The Information Provision Network (X1-X6)."),
    "portal": ("openmyna.portal.cli", "app", "The citizen portal (P1-P8)."),
    "backoffice": ("openmyna.portal.backoffice.cli", "app", "The portal's back office (staff)."),
    "ekyc": ("openmyna.ekyc.cli", "app", "JPKI identity verification for businesses (H4)."),
    "oidc": ("openmyna.identity.oidc.cli", "app", "The OpenID Connect provider for businesses."),
    "latest-items": (
        "openmyna.latest_items.cli",
        "app",
        "The latest-4-items service (最新の4情報提供サービス): businesses.",
    ),
}
_TOP_LEVEL = ("demo", "serve")
#: The network's own commands; any other word after ``network`` may be ``scenario``.
_NETWORK_COMMANDS = ("hub", "node", "records", "oversight")


def build(words: Sequence[str] = ()) -> typer.Typer:
    """The CLI with the groups the command line ``words`` needs (all of them for none)."""
    root = typer.Typer(
        name="openmyna",
        help="openmyna: Japan's My Number system, runnable.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    first = words[0] if words else None
    second = words[1] if len(words) > 1 else None
    wanted = [first] if first in GROUPS or first in _TOP_LEVEL else [*GROUPS, "demo"]
    for name in wanted:
        if name in _TOP_LEVEL or name == "demo":
            from openmyna.demo.cli import register

            register(root)
            continue
        module, attribute, help_text = GROUPS[name]
        group: typer.Typer = getattr(importlib.import_module(module), attribute)
        if name == "network" and second not in _NETWORK_COMMANDS:
            # The scenarios live in demo/ (network/ holds only the network) but read as
            # network commands: ``openmyna network scenario child-allowance``.
            from openmyna.demo.scenario_cli import app as scenario_app

            if not any(g.name == "scenario" for g in group.registered_groups):
                group.add_typer(scenario_app, name="scenario")
        root.add_typer(group, name=name, help=help_text)
    return root


def _words(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if not a.startswith("-")][:2]


def __getattr__(name: str) -> Any:
    """``openmyna.cli.app``: the whole CLI (for tests and tools that invoke it in process)."""
    if name == "app":
        return build()
    raise AttributeError(name)


def main() -> None:
    """Entry point: run the CLI, mapping domain errors to their exit codes."""
    app = build(_words(sys.argv[1:]))
    try:
        app()  # standalone: usage errors exit 2, typer.Exit keeps its code
    except OpenMynaError as exc:
        err_console.print(exc.diagnostics(), markup=False, highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
