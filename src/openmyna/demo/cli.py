"""``openmyna demo`` and ``openmyna serve``: the whole platform in one process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from openmyna.builder import Builder

if TYPE_CHECKING:
    from openmyna.portal.login.wallet import DemoCard

console = Console(stderr=True)

HostOpt = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
PortOpt = typer.Option(8000, "--port", help="Port to listen on.")


def _serve(builder: Builder, host: str, port: int, *, bank: bool = False) -> None:
    from openmyna.platform import Platform
    from openmyna.server import serve as serve_app
    from openmyna.web import create_app, endpoints, refuse_unprotected_exposure

    refuse_unprotected_exposure(host, builder.settings)
    platform = Platform(builder)
    try:
        app = create_app(platform)
        if bank:  # the demo's relying party of the OIDC provider (デモ銀行, /demo-bank)
            from openmyna.demo.bank import DemoBank

            app.router.routes.extend(DemoBank(platform.oidc).routes())
        console.print(f"openmyna serving on http://{host}:{port}/")
        for found in endpoints(app):
            console.print(f"  http://{host}:{port}{found.path}  {found.summary}", markup=False)
        serve_app(app, host, port, builder.settings.http)
    finally:
        platform.close()


def _demo_builder() -> Builder:
    """The installation's builder with the demo wallet on (``/wallet``: demo only)."""
    found = Builder.from_environment()
    settings = found.settings
    portal = settings.portal.model_copy(update={"demo_wallet": True})
    return Builder(settings.model_copy(update={"portal": portal}), found.clock)


def _print_cards(directory: Path, cards: list[DemoCard], issued: int, host: str, port: int) -> None:
    """Say where the demo cards are and how to log in with them."""
    what = f"{issued} issued now" if issued else "reused"
    console.print(
        f"demo cards in {directory} ({what}; README.txt and cards.json list them):",
        markup=False,
        soft_wrap=True,
    )
    for card in cards:
        line = f"  {card.file:<22} PIN {card.auth_pin}  {card.label_ja}"
        console.print(line, markup=False, soft_wrap=True)
    base = f"http://{host}:{port}"
    for card in (c for c in cards if c.role == "staff"):
        console.print(
            f"back office: {card.file} holds the administrator's role at {card.lg_code}:"
            f" log in with it and open {base}/backoffice",
            markup=False,
            soft_wrap=True,
        )
    example = directory / (cards[0].file if cards else "CARD.card")
    console.print(
        f"log in: open {base}/login and choose the demo wallet ({base}/wallet), or answer the"
        " URL the login page shows with the holder's app:\n"
        f"  openmyna card login {base}/login/r/<request> --reader {example}\n"
        f"  openmyna card login {base} --code <login code> --reader {example}",
        markup=False,
        soft_wrap=True,
    )


def serve(host: str = HostOpt, port: int = PortOpt) -> None:
    """Serve everything that exists from one process (one ASGI app)."""
    _serve(Builder.from_environment(), host, port)


def demo(
    residents: int = typer.Option(10_000, "--residents", min=0, help="Size of the town."),
    seed_only: bool = typer.Option(False, "--seed-only", help="Seed the town, then exit."),
    reset: bool = typer.Option(False, "--reset", help="Delete existing data first."),
    max_households: int = typer.Option(
        200,  # demo.network_seed.DEFAULT_MAX_HOUSEHOLDS (not imported: keeps the CLI quick)
        "--max-households",
        min=0,
        help="Households with children given network items, per municipality.",
    ),
    host: str = HostOpt,
    port: int = PortOpt,
) -> None:
    """Seed a synthetic town into the data dir and serve the platform."""
    from openmyna.demo.cards import issue_demo_cards
    from openmyna.demo.seed import reset_installation, seed_demo
    from openmyna.platform import Platform

    builder = Builder.from_environment()
    settings = builder.settings
    if not seed_only:  # refused before seeding, not after minutes of it
        from openmyna.web import refuse_unprotected_exposure

        refuse_unprotected_exposure(host, settings)
    if reset:
        dropped = reset_installation(settings)
        console.print(f"reset: {dropped} databases deleted")
    platform = Platform(builder)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("seeding residents", total=residents)
            items = bar.add_task("seeding the network", total=None)
            result = seed_demo(
                platform,
                residents,
                max_households=max_households,
                progress=lambda n: bar.update(task, completed=n),
                network_progress=lambda n, total: bar.update(items, completed=n, total=total),
            )
            bar.update(task, completed=residents)
            bar.update(items, completed=result.network.people, total=result.network.people)
        town, network = result.town, result.network
        if town.reused:
            console.print(
                f"reusing the seeded town in {settings.data_dir}: {town.residents} residents "
                "(--reset to start again)"
            )
        else:
            console.print(
                f"seeded {result.residents} residents in {result.households} households, "
                f"{len(town.municipalities)} municipalities, into {settings.data_dir}"
            )
        if network.reused:
            console.print("reusing the seeded network (items at each municipality's node)")
        else:
            console.print(
                f"network: {network.items} items (local tax, resident record) for "
                f"{network.people} people in {network.households} households with children, "
                f"under each municipality's own codes; the scenario family moved "
                f"{network.family.from_lg_code} → {network.family.to_lg_code} this year "
                "(openmyna network scenario child-allowance)"
            )
        directory, cards, issued = issue_demo_cards(platform)
    finally:
        platform.close()
    _print_cards(directory, cards, issued, host, port)
    if not seed_only:
        _serve(_demo_builder(), host, port, bank=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``serve`` to the main CLI."""
    app.command("demo")(demo)
    app.command("serve")(serve)
