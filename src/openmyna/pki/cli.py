"""``openmyna pki …``: CA certificates, the OCSP/CRL server, CRL publication, status changes."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

import typer
from cryptography.hazmat.primitives import hashes, serialization
from starlette.applications import Starlette

from openmyna import problems
from openmyna.builder import Builder
from openmyna.bus import Bus
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.pki.api import routes
from openmyna.pki.jpki import Jpki
from openmyna.pki.profiles import CertKind
from openmyna.pki.records import RevocationReason

log = logging.getLogger(__name__)

app = typer.Typer(
    help="JPKI (公的個人認証): CA certificates, OCSP and CRL, certificate status.",
    no_args_is_help=True,
)
crl_app = typer.Typer(help="Certificate revocation lists.", no_args_is_help=True)
app.add_typer(crl_app, name="crl")


def parse_serial(text: str) -> int:
    """A serial number: decimal, or hex with ``0x`` (or with any of a-f)."""
    value = text.strip().lower()
    try:
        if value.startswith("0x"):
            return int(value[2:], 16)
        if value.isdigit():
            return int(value)
        return int(value, 16)
    except ValueError:
        raise InvalidInput("a serial number is decimal or hex (0x…)") from None


@contextmanager
def _jpki() -> Iterator[Jpki]:
    """The installation's JPKI issuer, for one command."""
    with Builder.from_environment() as parts:
        yield parts.jpki()


def _kind(auth: bool, sign: bool) -> CertKind:
    if auth == sign:
        raise typer.BadParameter("give exactly one of --auth or --sign")
    return CertKind.AUTH if auth else CertKind.SIGN


@app.command("ca")
def ca(
    auth: Annotated[bool, typer.Option("--auth", help="The user-authentication CA.")] = False,
    sign: Annotated[bool, typer.Option("--sign", help="The digital-signature CA.")] = False,
    pem: Annotated[bool, typer.Option("--pem", help="Print the certificate as PEM.")] = False,
) -> None:
    """Print a CA certificate (created with its key on first use)."""
    kind = _kind(auth, sign)
    with _jpki() as jpki:
        cert = jpki.ca_certificate(kind)
    if pem:
        typer.echo(cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), nl=False)
        return
    typer.echo(f"subject:    {cert.subject.rfc4514_string()}")
    typer.echo(f"serial:     {cert.serial_number:x}")
    typer.echo(
        f"valid:      {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
    )
    typer.echo(f"sha256:     {cert.fingerprint(hashes.SHA256()).hex(':')}")


@app.command("status")
def status(
    serial: Annotated[str, typer.Argument(help="Serial number (decimal or 0x-hex).")],
) -> None:
    """Show the recorded status of a certificate."""
    with _jpki() as jpki:
        record = jpki.record(parse_serial(serial))
    typer.echo(f"serial:     {record.serial:x}")
    typer.echo(f"kind:       {record.kind.value}")
    typer.echo(f"status:     {record.status.value}")
    typer.echo(
        f"valid:      {record.not_before:%Y-%m-%d %H:%M} to {record.not_after:%Y-%m-%d %H:%M} UTC"
    )
    if record.revoked_at is not None:
        reason = record.reason.value if record.reason else "-"
        typer.echo(f"changed:    {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC ({reason})")


@app.command("revoke")
def revoke(
    serial: Annotated[str, typer.Argument(help="Serial number (decimal or 0x-hex).")],
    reason: Annotated[
        RevocationReason, typer.Option(help="RFC 5280 reason.")
    ] = RevocationReason.UNSPECIFIED,
) -> None:
    """Revoke a certificate for good (失効)."""
    with _jpki() as jpki:
        changed = jpki.revoke(parse_serial(serial), reason, actor="cli")
    typer.echo("revoked" if changed else "already revoked")


@app.command("suspend")
def suspend(serial: Annotated[str, typer.Argument(help="Serial number.")]) -> None:
    """Suspend a certificate (一時停止, certificateHold)."""
    with _jpki() as jpki:
        changed = jpki.suspend(parse_serial(serial), actor="cli")
    typer.echo("suspended" if changed else "already suspended")


@app.command("resume")
def resume(serial: Annotated[str, typer.Argument(help="Serial number.")]) -> None:
    """Lift a suspension."""
    with _jpki() as jpki:
        changed = jpki.resume(parse_serial(serial), actor="cli")
    typer.echo("resumed" if changed else "not suspended")


@crl_app.command("publish")
def crl_publish() -> None:
    """Publish a new CRL for each CA now."""
    with _jpki() as jpki:
        published = jpki.publish_crls()
    for kind, found in published.items():
        entries = len(list(found.load()))
        typer.echo(
            f"{kind.value}: CRL #{found.number}, {entries} entries, "
            f"next update {found.next_update:%Y-%m-%d %H:%M} UTC"
        )


def standalone_app(jpki: Jpki, bus: Bus | None, *, interval: float = 1.0) -> Starlette:
    """An app serving only ``/ocsp`` and ``/crl``, with a thread doing ``maintain``.

    With a ``bus`` (which ``jpki`` follows), the thread also delivers its events. A bare
    Starlette app: these routes need none of FastAPI's machinery (``openmyna serve`` mounts
    the same routes into the one FastAPI app).
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                if bus is not None:
                    bus.pump(timeout=min(interval, 0.5))
                jpki.maintain()
            except OpenMynaError as exc:  # retried next round; nothing is lost
                log.warning("PKI background work failed: %s", exc.code)
            stop.wait(interval)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        worker = threading.Thread(target=loop, name="openmyna-pki", daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join(timeout=10)

    web = Starlette(routes=routes(jpki), lifespan=lifespan)
    problems.install(web)  # unknown routes and methods answer problem+json here too
    return web


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    events: Annotated[
        bool, typer.Option("--events/--no-events", help="Revoke on registry and card events.")
    ] = True,
) -> None:
    """Serve /ocsp and /crl on their own (and revoke on bus events) until stopped."""
    from openmyna.server import serve as serve_app

    with Builder.from_environment() as parts:
        jpki = parts.jpki(follow_events=events)
        jpki.maintain()
        web = standalone_app(jpki, parts.bus() if events else None)
        serve_app(web, host, port, parts.settings.http, access_log=False)
