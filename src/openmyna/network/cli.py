"""``openmyna network …``: run the hub and the agency nodes, check the exchange records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from openmyna.builder import Builder
from openmyna.clock import JST
from openmyna.errors import InvalidInput

app = typer.Typer(
    help="The Information Provision Network: the hub, agency nodes, exchange records.",
    no_args_is_help=True,
)
records_app = typer.Typer(help="The hub's exchange records (情報提供等記録).", no_args_is_help=True)
app.add_typer(records_app, name="records")
oversight_app = typer.Typer(
    help="The oversight body's (個人情報保護委員会) audit of the records; every query is logged.",
    no_args_is_help=True,
)
app.add_typer(oversight_app, name="oversight")

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
LogLevel = Annotated[str, typer.Option(help="uvicorn log level.")]


@app.command("hub")
def hub(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8440,
    log_level: LogLevel = "warning",
) -> None:
    """Run the hub (mutual TLS); several hub processes may share one database."""
    from openmyna.network.processes import serve_hub

    with Builder.from_environment() as parts:
        serve_hub(
            parts.hub(),
            parts.network_ca(),
            host,
            port,
            log_level=log_level,
            limits=parts.settings.http,
        )


@app.command("node")
def node(
    agency: Annotated[str, typer.Option("--agency", help="The agency id, e.g. lg-102016.")],
    hub_url: Annotated[str, typer.Option("--hub", help="The hub's URL, https://host:port.")],
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8441,
    advertise: Annotated[
        str | None,
        typer.Option(help="The URL the hub reaches this node at (default: host and port)."),
    ] = None,
    log_level: LogLevel = "warning",
) -> None:
    """Run an agency's node (mutual TLS); it registers its URL with the hub."""
    from openmyna.network.processes import serve_node

    with Builder.from_environment() as parts:
        node = parts.node(agency)
        ca = parts.network_ca()
        serve_node(
            node,
            ca,
            hub_url,
            host,
            port,
            advertise=advertise,
            log_level=log_level,
            limits=parts.settings.http,
        )


@records_app.command("verify")
def records_verify() -> None:
    """Recompute the hash chain and check the signed checkpoints."""
    with Builder.from_environment() as parts:
        report = parts.exchange_records().verify_chain()
    typer.echo(f"records:          {report.records}")
    typer.echo(f"checkpoints:      {report.checkpoints}")
    typer.echo(f"last checkpoint:  {report.last_checkpoint_seq}")
    for problem in report.problems:
        typer.echo(f"problem:          seq {problem.seq}: {problem.kind.value}")
    typer.echo(f"chain:            {'ok' if report.ok else 'BROKEN'}")
    if not report.ok:
        raise typer.Exit(1)


@records_app.command("person")
def records_person(
    number: Annotated[
        str,
        typer.Option(
            "--number",
            prompt="Individual number",
            hide_input=True,
            help="The person's individual number (asked for when not given; never printed).",
        ),
    ],
) -> None:
    """List the exchanges about one person (the portal's やりとり履歴)."""
    with Builder.from_environment() as parts:
        key = parts.agency_codes().person_key_of_number(number)
        rows = parts.exchange_records().for_person(key)
    for r in rows:
        typer.echo(
            f"{r.recorded_at:%Y-%m-%d %H:%M:%S}  {r.requester:<12} -> {r.provider:<12} "
            f"{r.affair:<20} {r.item:<20} {r.outcome.value}"
        )
    typer.echo(f"{len(rows)} exchange(s)")


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("a time is YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+09:00]") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=JST)


@oversight_app.command("query")
def oversight_query(
    auditor: Annotated[str, typer.Option(help="Who audits (written to the query log).")],
    agency: Annotated[str | None, typer.Option(help="Requester or provider.")] = None,
    affair: Annotated[str | None, typer.Option(help="The affair, e.g. child_allowance.")] = None,
    outcome: Annotated[str | None, typer.Option(help="provided, not_allowed, …")] = None,
    since: Annotated[str | None, typer.Option(help="From (inclusive), JST if no zone.")] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive), JST if no zone.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many records.")] = 1000,
) -> None:
    """List the hub's records matching a filter; the query itself is logged."""
    from openmyna.network.oversight import Oversight

    with Builder.from_environment() as parts:
        rows = Oversight(parts.exchange_records()).query(
            auditor,
            agency=agency,
            affair=affair,
            outcome=outcome,
            since=_when(since),
            until=_when(until),
            limit=limit,
        )
    for r in rows:
        typer.echo(
            f"{r.seq:>8}  {r.recorded_at:%Y-%m-%d %H:%M:%S}Z  {r.requester:<12} -> "
            f"{r.provider:<12} {r.affair:<24} {r.item:<20} {r.outcome.value}"
        )
    typer.echo(f"{len(rows)} record(s); this query is logged (openmyna network oversight log)")


@oversight_app.command("log")
def oversight_log() -> None:
    """The oversight body's own queries: who, when, which filter, how many records."""
    from openmyna.network.oversight import Oversight

    with Builder.from_environment() as parts:
        entries = Oversight(parts.exchange_records()).log()
    for q in entries:
        shown = json.dumps(q.filter, ensure_ascii=False, sort_keys=True)
        typer.echo(
            f"{q.id:>6}  {q.queried_at:%Y-%m-%d %H:%M:%S}Z  {q.auditor:<20} "
            f"{q.result_count:>6} record(s)  {shown}"
        )
    typer.echo(f"{len(entries)} quer(y/ies)")
