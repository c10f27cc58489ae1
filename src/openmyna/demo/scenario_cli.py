"""``openmyna network scenario …``: the scenarios that show the network, on the demo town."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from openmyna.demo.scenario import ScenarioReport
from openmyna.errors import NotFound
from openmyna.network.agencies import AgencyDirectory
from openmyna.network.local_layouts import LocalTaxInfo, ResidentRegistryInfo
from openmyna.network.node_store import NodeRecord

app = typer.Typer(
    help="Scenarios on the demo town: what an application gets over the network.",
    no_args_is_help=True,
)
console = Console()


class DemoNotSeeded(NotFound):
    """The data dir holds no demo town to run the scenario on."""

    code = "DEMO_NOT_SEEDED"


@app.callback()
def _scenarios() -> None:
    """Scenarios on the demo town (run ``openmyna demo --seed-only`` first)."""


def _name(agency_id: str) -> str:
    agency = AgencyDirectory.default().get(agency_id)
    return f"{agency.name} ({agency_id})" if agency is not None else agency_id


def _yen(value: int) -> str:
    return f"¥{value:,}"


def _short(exchange_id: str | None) -> str:
    """The first group of an exchange id: enough to match the sides by eye."""
    return (exchange_id or "").split("-")[0]


def _table(title: str, *columns: str) -> Table:
    table = Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True
    )
    for col in columns:
        table.add_column(col, no_wrap=True)
    return table


def _fields(got: object) -> list[tuple[str, str]]:
    if isinstance(got, LocalTaxInfo):
        d = got.dependants
        return [
            ("fiscal year", f"{got.fiscal_year} (income of {got.income_year})"),
            ("levied by", got.levying_lg_code),
            ("status", str(got.status)),
            ("income", ", ".join(str(c) for c in got.income_categories) or "-"),
            ("total income", _yen(got.total_income)),
            ("taxable income", _yen(got.taxable_income)),
            ("municipal tax", _yen(got.municipal_tax)),
            ("prefectural tax", _yen(got.prefectural_tax)),
            (
                "dependants",
                f"spouse {'yes' if d.spouse else 'no'}, under 16: {d.under_16}, "
                f"general: {d.general}, specified: {d.specified}, elderly: {d.elderly}",
            ),
            ("as of", str(got.as_of)),
        ]
    if isinstance(got, ResidentRegistryInfo):
        return [
            ("municipality", got.lg_code),
            ("status", str(got.status)),
            ("resident since", str(got.resident_since)),
            ("left on", str(got.left_on) if got.left_on else "-"),
            (
                "household",
                ", ".join(
                    f"{m.relationship} {m.birth_year}{' (applicant)' if m.subject else ''}"
                    for m in got.members
                ),
            ),
            ("as of", str(got.as_of)),
        ]
    if got is None:
        return [("", "no data held")]
    return [("", str(got))]


def _received_tables(report: ScenarioReport) -> list[Table]:
    tables = []
    for r in report.received:
        table = Table(
            title=f"{r.item} from {_name(r.provider)}, instead of {r.replaces} "
            f"(exchange {_short(r.exchange_id)})",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        table.add_column("field", no_wrap=True)
        table.add_column("value (readable by B only)")
        for key, value in _fields(r.layout):
            table.add_row(key, value)
        tables.append(table)
    return tables


def _node_table(title: str, rows: tuple[NodeRecord, ...]) -> Table:
    table = _table(title, "UTC", "exchange", "peer", "item", "outcome")
    for r in rows:
        table.add_row(
            r.recorded_at.strftime("%H:%M:%S"),
            _short(r.exchange_id),
            r.peer,
            r.item,
            str(r.outcome),
        )
    return table


def _hub_table(report: ScenarioReport) -> Table:
    table = _table(
        "The hub's exchange records (情報提供等記録: what the person sees)",
        "seq",
        "UTC",
        "exchange",
        "requester",
        "provider",
        "item",
        "outcome",
    )
    for r in report.hub_records:
        table.add_row(
            str(r.seq),
            r.recorded_at.strftime("%H:%M:%S"),
            _short(r.exchange_id),
            r.requester,
            r.provider,
            r.item,
            str(r.outcome),
        )
    return table


def print_report(report: ScenarioReport, out: Console = console) -> None:
    """Print a scenario report as rich tables: the items, then the records at each side."""
    out.print(
        f"[bold]児童手当 (child allowance, affair {report.affair})[/bold] applied for at "
        f"{_name(report.requester)} "
        f"by {report.applicant}; moved in this year from {_name(report.provider)}, "
        "where the family lived on 1 January."
    )
    attached = ", ".join(report.attachments) or "none"
    out.print(
        f"Documents attached: {attached} — no longer needed: "
        f"{', '.join(report.documents_not_attached) or 'none'} (obtained over the network)."
    )
    for table in _received_tables(report):
        out.print(table)
    if report.refused:
        refused = _table(
            "Refused by the hub: not on the allow-list (別表第二)",
            "item",
            "provider",
            "outcome",
            "reason",
            "exchange",
        )
        for f in report.refused:
            refused.add_row(f.item, f.provider, f.outcome, f.reason or "", _short(f.exchange_id))
        out.print(refused)
    out.print(
        _node_table(
            f"B's node {report.requester} (requester)",
            report.requester_records,
        )
    )
    out.print(_node_table(f"A's node {report.provider} (provider)", report.provider_records))
    out.print(_hub_table(report))
    out.print(
        "The same exchanges at B, A and the hub (exchange ids: first 8 digits); the records hold "
        "no content, no agency-specific code and no individual number."
    )


@app.command("child-allowance")
def child_allowance(
    refusal: Annotated[
        bool,
        typer.Option(
            "--refusal/--no-refusal",
            help="Also ask for an item the allow-list does not permit, to show the refusal.",
        ),
    ] = True,
    max_households: Annotated[
        int,
        typer.Option(
            "--max-households",
            min=0,
            help="Households with children seeded per municipality, if the network is not "
            "seeded yet.",
        ),
    ] = 200,
) -> None:
    """Apply for child allowance at 神戸市 after a move from 前橋市: no tax certificate attached."""
    from openmyna.builder import Builder
    from openmyna.demo.family import FAMILY_FROM, FAMILY_TO
    from openmyna.demo.network_seed import seed_network
    from openmyna.demo.scenario import application_for, run_child_allowance

    with Builder.from_environment() as parts:
        registries = parts.registries()
        known = {m.lg_code for m in registries.list_municipalities()}
        if not {FAMILY_FROM, FAMILY_TO} <= known:
            raise DemoNotSeeded(
                "no demo town in this data dir: run `openmyna demo --seed-only` first",
                data_dir=str(parts.settings.data_dir),
            )
        network = parts.network()
        seeded = seed_network(network, registries, max_households=max_households)
        if not seeded.reused:
            console.print(
                f"seeded the network: {seeded.items} items for {seeded.people} people "
                f"in {seeded.households} households"
            )
        report = run_child_allowance(network, application_for(seeded.family), show_refusal=refusal)
        print_report(report)
