"""``openmyna demo`` and ``openmyna serve``: the whole platform in one process."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from openmyna.config import Settings

console = Console(stderr=True)

HostOpt = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
PortOpt = typer.Option(8000, "--port", help="Port to listen on.")


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from openmyna.platform import Platform
    from openmyna.web import create_app

    platform = Platform(settings)
    try:
        app = create_app(platform)
        console.print(f"openmyna serving on http://{host}:{port}/")
        for path, what in platform.endpoints():
            console.print(f"  http://{host}:{port}{path}  {what}")
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        platform.close()


def serve(host: str = HostOpt, port: int = PortOpt) -> None:
    """Serve everything that exists from one process (one ASGI app)."""
    _serve(Settings(), host, port)


def demo(
    residents: int = typer.Option(10_000, "--residents", min=0, help="Size of the town."),
    seed_only: bool = typer.Option(False, "--seed-only", help="Seed the town, then exit."),
    reset: bool = typer.Option(False, "--reset", help="Delete existing data first."),
    host: str = HostOpt,
    port: int = PortOpt,
) -> None:
    """Seed a synthetic town into the data dir and serve the platform."""
    from openmyna.demo.seed import reset_installation, seed_town
    from openmyna.platform import Platform

    settings = Settings()
    if reset:
        dropped = reset_installation(settings)
        console.print(f"reset: {dropped} databases deleted")
    platform = Platform(settings)
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
            result = seed_town(
                platform.registries,
                residents,
                progress=lambda n: bar.update(task, completed=n),
            )
            bar.update(task, completed=result.residents if not result.reused else residents)
        if result.reused:
            console.print(
                f"reusing the seeded town in {settings.data_dir}: {result.residents} residents "
                "(--reset to start again)"
            )
        else:
            console.print(
                f"seeded {result.residents} residents in {result.households} households, "
                f"{len(result.municipalities)} municipalities, into {settings.data_dir}"
            )
    finally:
        platform.close()
    if not seed_only:
        _serve(settings, host, port)


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``serve`` to the main CLI."""
    app.command("demo")(demo)
    app.command("serve")(serve)
