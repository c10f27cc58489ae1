"""``openmyna card insert FILE``: put a card file in pcscd's vpcd reader until stopped.

While it runs, every PC/SC program on this machine (``openmyna card read --reader vpcd``,
OpenSC's ``pkcs15-tool`` and PKCS#11 module, browsers and signing tools that use them) sees
the emulated My Number Card in the reader "Virtual PCD 00 00". The card's state (PIN retry
counters, changed PINs) is written back to the file after every change and on exit.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from openmyna.card.cardfile import CardFile
from openmyna.card.transport.vpcd import DEFAULT_HOST, DEFAULT_PORT, serve_card
from openmyna.config import load_settings
from openmyna.errors import OpenMynaError


def _reader_name(port: int) -> str:
    """The name pcscd shows for the vpcd slot on ``port`` (a description if unknown)."""
    try:
        from openmyna.card.transport.pcsc import list_readers, vpcd_reader_name

        return f"'{vpcd_reader_name(list_readers(), port)}'"
    except OpenMynaError:
        return f"the vpcd reader (slot {port - DEFAULT_PORT})"


def insert(
    file: Annotated[
        Path, typer.Argument(help="The card file (from `openmyna card new`).", exists=True)
    ],
    port: Annotated[
        int, typer.Option(help="vpcd's port: 35963 is slot 0, 35964 slot 1.")
    ] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Where pcscd's vpcd driver listens.")] = DEFAULT_HOST,
    passphrase: Annotated[
        bool, typer.Option("--passphrase", help="The file is sealed with a passphrase: ask it.")
    ] = False,
) -> None:
    """Insert the card in pcscd's vpcd reader until Ctrl-C (state saved to the file)."""
    console = Console(stderr=True, soft_wrap=True)
    secret = typer.prompt("Card file passphrase", hide_input=True) if passphrase else None
    opened = CardFile.open(file, settings=load_settings(), passphrase=secret)
    stop = threading.Event()
    connected = threading.Event()
    failure: list[Exception] = []

    def serve() -> None:
        try:
            serve_card(opened.card, host, port, stop, connected=connected)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    worker = threading.Thread(target=serve, name="vpcd-card", daemon=True)
    worker.start()
    shown = False
    try:
        if not connected.wait(1.0):
            console.print(f"Waiting for pcscd's vpcd driver at {host}:{port} …", markup=False)
        while worker.is_alive():
            worker.join(0.2)
            if connected.is_set() and not shown:
                console.print(
                    f"Card {opened.card.card_id} is in {_reader_name(port)}. Ctrl-C takes it out.",
                    markup=False,
                )
                shown = True
            elif shown and not connected.is_set() and not stop.is_set():
                console.print("vpcd went away; waiting for it to come back …", markup=False)
                shown = False
    finally:
        stop.set()
        worker.join(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        opened.save()
        opened.close()
    if failure:
        raise failure[0]
    console.print(f"Card removed; its state is saved in {file}.", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``insert`` to the ``openmyna card`` command group."""
    app.command("insert")(insert)
