"""The child-allowance scenario (児童手当, SPEC X5) end to end, and the network's demo seeding."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.bus import Bus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.family import FAMILY, FAMILY_FROM, FAMILY_INCOMES, FAMILY_TO, find_family
from openmyna.demo.network_seed import (
    NetworkSeedResult,
    local_tax_items,
    seed_network,
    tax_fiscal_year,
)
from openmyna.demo.scenario import (
    ChildAllowanceApplication,
    ScenarioFailed,
    application_for,
    run_child_allowance,
)
from openmyna.demo.seed import seed_town
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network.agencies import municipality_agency_id
from openmyna.network.errors import ProviderUnavailable
from openmyna.network.local import LocalNetwork
from openmyna.network.local_layouts import (
    LocalTaxInfo,
    Relationship,
    ResidenceStatus,
    ResidentRegistryInfo,
    TaxStatus,
)
from openmyna.network.node_store import node_items
from openmyna.network.records import Outcome
from openmyna.registry import EventType, IdentityStatus, Registries, Status
from openmyna.registry import Relationship as RegistryRelationship

A = municipality_agency_id(FAMILY_FROM)
B = municipality_agency_id(FAMILY_TO)
OPENMYNA = shutil.which("openmyna", path=os.path.dirname(sys.executable)) or "openmyna"


@dataclasses.dataclass
class Demo:
    settings: Settings
    clock: FixedClock
    bus: Bus
    registries: Registries
    network: LocalNetwork
    seeded: NetworkSeedResult


@pytest.fixture
def demo(settings: Settings, clock: FixedClock) -> Iterator[Demo]:
    """A small demo town in 前橋市 and 神戸市 with its network seeded."""
    with Builder(settings, clock) as parts:
        registries = parts.registries()
        seed_town(registries, 150, municipalities=(FAMILY_FROM, FAMILY_TO))
        network = parts.network()
        seeded = seed_network(network, registries)
        yield Demo(settings, clock, parts.bus(), registries, network, seeded)


def test_child_allowance_without_attached_documents(demo: Demo) -> None:
    family = demo.seeded.family
    applicant = family.applicant
    report = run_child_allowance(demo.network, application_for(family))

    assert (report.requester, report.provider, report.affair) == (B, A, "child_allowance")
    assert report.attachments == ()
    assert report.documents_not_attached == ("課税証明書", "住民票の写し")
    assert applicant.individual_number not in report.applicant
    # What B received: A's resident tax for the fiscal year A levied, as the layout says.
    tax = report.local_tax
    assert isinstance(tax, LocalTaxInfo)
    assert tax.fiscal_year == tax_fiscal_year(demo.clock.today()) == 2025
    assert tax.levying_lg_code == FAMILY_FROM
    assert tax.status is TaxStatus.TAXED
    assert tax.total_income == FAMILY_INCOMES[RegistryRelationship.HEAD][0]
    assert 0 < tax.taxable_income < tax.total_income
    assert tax.municipal_tax > tax.prefectural_tax > 0
    assert tax.dependants.spouse
    assert tax.dependants.under_16 == 2
    # ... and A's resident record: moved out this year, the household as it was at A.
    rr = report.resident_registry
    assert isinstance(rr, ResidentRegistryInfo)
    assert (rr.lg_code, rr.status, rr.left_on) == (
        FAMILY_FROM,
        ResidenceStatus.MOVED_OUT,
        family.moved_on,
    )
    assert rr.resident_since < dt.date(tax.fiscal_year, 1, 1)  # lived at A on 1 January
    assert family.moved_on.year == demo.clock.today().year
    assert [(m.relationship, m.birth_year, m.subject) for m in rr.members] == [
        (Relationship.HEAD, applicant.date_of_birth.year, True),
        (Relationship.SPOUSE, family.members[1].date_of_birth.year, False),
        (Relationship.CHILD, family.members[2].date_of_birth.year, False),
        (Relationship.CHILD, family.members[3].date_of_birth.year, False),
    ]

    # The records at B, at A and at the hub: same exchanges, same outcomes.
    [tax_id, registry_id, refused_id] = report.exchange_ids
    at_b = {r.exchange_id: r for r in report.requester_records}
    at_a = {r.exchange_id: r for r in report.provider_records}
    at_hub = {r.exchange_id: r for r in report.hub_records}
    assert set(at_b) == set(at_hub) == {tax_id, registry_id, refused_id}
    assert set(at_a) == {tax_id, registry_id}  # the refused request never reached A
    for eid, item in ((tax_id, "local_tax"), (registry_id, "resident_registry")):
        assert (at_b[eid].role, at_b[eid].peer, at_b[eid].item, at_b[eid].outcome) == (
            "requester",
            A,
            item,
            Outcome.PROVIDED,
        )
        assert (at_a[eid].role, at_a[eid].peer, at_a[eid].item, at_a[eid].outcome) == (
            "provider",
            B,
            item,
            Outcome.PROVIDED,
        )
        hub = at_hub[eid]
        assert (hub.requester, hub.provider, hub.affair, hub.item, hub.outcome) == (
            B,
            A,
            "child_allowance",
            item,
            Outcome.PROVIDED,
        )
    # Not on the allow-list: refused by the hub, recorded at B and at the hub.
    assert not demo.network.allow_list.is_allowed(
        "municipality", "child_allowance", "municipality", "welfare"
    )
    [refused] = report.refused
    assert (refused.item, refused.outcome, refused.reason, refused.exchange_id) == (
        "welfare",
        "not_allowed",
        "NOT_ALLOWED",
        refused_id,
    )
    assert at_b[refused_id].outcome is Outcome.NOT_ALLOWED
    assert at_hub[refused_id].outcome is Outcome.NOT_ALLOWED

    # The records carry no content, no code and no number.
    codes = demo.network.hub.codes.codes_of_person(
        demo.network.issue_code(B, applicant.individual_number), B
    )
    assert set(codes) >= {A, B}
    secrets = [applicant.individual_number, applicant.resident_code, *codes.values()]
    secrets += [str(tax.total_income), str(tax.municipal_tax), str(tax.taxable_income)]
    for record in (*report.requester_records, *report.provider_records, *report.hub_records):
        text = repr(record)
        assert not [s for s in secrets if s in text]
    # The hub's records are the person's やりとり履歴, and its chain verifies.
    history = demo.network.records_for_number(applicant.individual_number)
    assert {r.exchange_id for r in history} >= set(report.exchange_ids)
    assert demo.network.hub.records.verify_chain().ok


def test_the_family_moved_by_registry_events_keeping_the_number(demo: Demo) -> None:
    family = demo.seeded.family
    a = demo.registries.municipality(FAMILY_FROM)
    assert [m.given_name for m in family.members] == [m.given_name for m in FAMILY]
    assert len(family.children) == 2
    for member in family.members:
        assert member.lg_code == FAMILY_TO
        assert member.moved_in_from_lg_code == FAMILY_FROM
        assert member.resident_since == family.moved_on
        before = a.get(member.resident_code)  # A's removed record (除票)
        assert before.status is Status.REMOVED
        assert before.individual_number == member.individual_number
        assert (before.removed_on, before.moved_in_at_lg_code) == (family.moved_on, FAMILY_TO)
        entry = demo.registries.index.by_individual_number(member.individual_number)
        assert (entry.lg_code, entry.status) == (FAMILY_TO, IdentityStatus.CURRENT)
        actions = [e.action for e in a.audit_entries(member.resident_code)]
        assert str(EventType.MOVED_OUT) in actions
    younger = a.audit_entries(family.members[3].resident_code)
    assert younger[0].action == str(EventType.BIRTH)  # born at A


def test_seeding_is_idempotent_and_per_municipality(demo: Demo) -> None:
    seeded, net, regs = demo.seeded, demo.network, demo.registries
    assert not seeded.reused
    assert seeded.households >= 2
    assert seeded.items > seeded.people > len(FAMILY)
    count = regs.count()
    again = seed_network(net, regs)
    assert again.reused
    assert again.family.applicant.resident_code == seeded.family.applicant.resident_code
    assert regs.count() == count
    assert find_family(regs) == seeded.family
    # A run interrupted before its last write (A's tax item of the applicant) is completed by
    # the next one, without registering the family twice.
    code_a = net.issue_code(A, seeded.family.applicant.individual_number)
    with net.node(A).store.store.transaction() as s:
        s.execute(node_items.delete().where(node_items.c.code == code_a))
    completed = seed_network(net, regs)
    assert not completed.reused
    assert completed.family == seeded.family
    assert regs.count() == count
    assert net.node(A).store.get_item(code_a, "local_tax") is not None
    assert seed_network(net, regs).reused

    # Items are held under each municipality's own code, by that municipality only.
    checked = 0
    for lg_code in (FAMILY_FROM, FAMILY_TO):
        here = municipality_agency_id(lg_code)
        other = B if here == A else A
        for r in regs.municipality(lg_code).list_residents(limit=200):
            code = net.issue_code(here, r.individual_number)
            held = net.node(here).store.get_item(code, "resident_registry")
            if held is None:
                continue  # a household without children: not seeded
            checked += 1
            assert held[1]["lg_code"] == lg_code
            assert held[1]["status"] == "resident"
            today = demo.clock.today()
            age = today.year - r.date_of_birth.year
            age -= (today.month, today.day) < (r.date_of_birth.month, r.date_of_birth.day)
            tax = net.node(here).store.get_item(code, "local_tax")
            # Adults only; not the family at B: A levied their tax (B must ask A for it).
            assert (tax is not None) == (age >= 18 and r.moved_in_from_lg_code is None)
            if tax is not None:
                assert tax[1]["levying_lg_code"] == lg_code
                assert tax[1]["fiscal_year"] == 2025
            other_code = net.issue_code(other, r.individual_number)
            at_other = net.node(other).store.get_item(other_code, "resident_registry")
            if r.moved_in_from_lg_code is None:
                assert at_other is None
            else:  # the family: A keeps its removed record (除票)
                assert at_other is not None
                assert at_other[1]["status"] == "moved_out"
    assert checked >= 4


def test_seeding_is_bounded_and_deterministic(settings: Settings, clock: FixedClock) -> None:
    parts = Builder(settings, clock)
    regs, net = parts.registries(), parts.network()
    try:
        seed_town(regs, 200, municipalities=(FAMILY_FROM, FAMILY_TO, "452025"))
        seeded = seed_network(net, regs, max_households=1)
        assert seeded.households <= 3 + 1  # one per municipality, and the family
        with pytest.raises(ValueError, match="negative"):
            seed_network(net, regs, max_households=-1)
        today = clock.today()
        at_b = list(seeded.family.members)
        # Moved in after 1 January: B does not tax them this fiscal year.
        assert local_tax_items(at_b, lg_code=FAMILY_TO, as_of=today, seed=7) == {}
        at_a = [regs.municipality(FAMILY_FROM).get(m.resident_code) for m in at_b]
        one = local_tax_items(at_a, lg_code=FAMILY_FROM, as_of=today, seed=7)
        assert one == local_tax_items(at_a, lg_code=FAMILY_FROM, as_of=today, seed=7)
        assert set(one) == {at_a[0].resident_code, at_a[1].resident_code}  # the adults
        other = local_tax_items(at_a, lg_code=FAMILY_FROM, as_of=today, seed=8)
        assert other != one
    finally:
        parts.close()


def test_bad_applications_are_refused(demo: Demo) -> None:
    app = application_for(demo.seeded.family)
    with pytest.raises(InvalidInput):
        run_child_allowance(demo.network, dataclasses.replace(app, attachments=("課税証明書",)))
    with pytest.raises(InvalidInput):
        run_child_allowance(demo.network, dataclasses.replace(app, previous_lg_code=FAMILY_TO))
    # A resident of B who never lived at A: A holds nothing, B gets "no data", nothing replaced.
    stranger = next(
        r
        for r in demo.registries.municipality(FAMILY_TO).list_residents(limit=500)
        if r.moved_in_from_lg_code is None
    )
    report = run_child_allowance(
        demo.network,
        ChildAllowanceApplication(stranger.individual_number, FAMILY_TO, FAMILY_FROM),
        show_refusal=False,
    )
    assert [(r.item, r.layout) for r in report.received] == [
        ("local_tax", None),
        ("resident_registry", None),
    ]
    assert report.documents_not_attached == ()
    assert report.refused == ()
    assert {r.outcome for r in report.hub_records} == {Outcome.NO_DATA}


class _Down(LocalNetwork):
    def deliver(self, provider: str, forwarded_tokens: list[str]) -> list[str | OpenMynaError]:
        raise ProviderUnavailable("the provider node does not answer")


def test_scenario_fails_clearly_when_a_is_down(demo: Demo) -> None:
    down = _Down(demo.settings, demo.clock, demo.registries.index)
    try:
        with pytest.raises(ScenarioFailed) as failed:
            run_child_allowance(down, application_for(demo.seeded.family), show_refusal=False)
        assert failed.value.context["reason"] == "PROVIDER_UNAVAILABLE"
        applicant = demo.seeded.family.applicant.individual_number
        assert applicant not in str(failed.value.diagnostics())
    finally:
        down.close()


def _env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "OPENMYNA_DATA_DIR": str(data_dir)}
    env.pop("OPENMYNA_DATABASE_URL", None)
    env.pop("OPENMYNA_BUS_URL", None)
    return env


def test_cli_runs_the_scenario_on_the_demo_town(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openmyna.cli import app

    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
    with Builder.from_environment() as parts:
        seed_town(parts.registries(), 80, municipalities=(FAMILY_FROM, FAMILY_TO))
    runner = CliRunner()
    first = runner.invoke(app, ["network", "scenario", "child-allowance"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "seeded the network" in first.output
    for text in ("課税証明書", "local_tax", "resident_registry", "not_allowed", A, B, "provided"):
        assert text in first.output
    second = runner.invoke(
        app, ["network", "scenario", "child-allowance", "--no-refusal"], catch_exceptions=False
    )
    assert second.exit_code == 0, second.output
    assert "seeded the network" not in second.output
    assert "not_allowed" not in second.output
    with Builder.from_environment() as parts:
        family = find_family(parts.registries())
        assert family is not None
        for member in family.members:
            assert member.individual_number not in first.output + second.output


def test_cli_without_a_demo_town_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [OPENMYNA, "network", "scenario", "child-allowance"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "DEMO_NOT_SEEDED" in done.stderr
    assert "openmyna demo --seed-only" in done.stderr


@pytest.mark.parametrize(
    "today",
    [dt.date(2026, 1, 1), dt.date(2026, 4, 1), dt.date(2026, 6, 12), dt.date(2028, 2, 29)],
)
def test_family_dates_fit_the_story_on_any_day(today: dt.date) -> None:
    from openmyna.demo.family import _family_dates

    registered, moved, births = _family_dates(today)
    ages = [today.year - b.year - ((today.month, today.day) < (b.month, b.day)) for b in births]
    assert ages == [m.age for m in FAMILY]
    assert births[2] < registered < births[3] <= today  # the second child is born at A
    assert registered < dt.date(tax_fiscal_year(today), 1, 1)  # at A on 1 January
    assert moved.year == today.year
    assert today - dt.timedelta(days=14) <= moved <= today  # a move-out may be notified late
