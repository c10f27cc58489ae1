"""The whole network in one process (``LocalNetwork``): the processes' code paths, in process."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from openmyna.builder import Builder
from openmyna.bus import Bus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.network.errors import ExchangeRefused, ProviderUnavailable, UnknownAgency
from openmyna.network.exchange import RequestSpec, exchange_id_of, exchange_ref
from openmyna.network.local import LocalNetwork
from openmyna.network.local_layouts import LocalTaxInfo
from openmyna.network.records import Outcome
from openmyna.registry import NewPerson, Registries, Sex

A = "lg-102016"  # 前橋市: provider
B = "lg-281000"  # 神戸市: requester
AFFAIR = "child_allowance"
TAX = {
    "as_of": "2026-04-01",
    "fiscal_year": 2025,
    "levying_lg_code": "102016",
    "status": "taxed",
    "income_categories": ["salary"],
    "total_income": 4_321_000,
    "taxable_income": 2_987_000,
    "municipal_tax": 182_700,
    "prefectural_tax": 121_000,
}


@dataclasses.dataclass
class Town:
    settings: Settings
    clock: FixedClock
    bus: Bus
    registries: Registries
    numbers: list[str]


@pytest.fixture
def town(settings: Settings, clock: FixedClock) -> Iterator[Town]:
    """Three residents of 前橋市 in the registry and the national index."""
    parts = Builder(settings, clock)
    bus, regs = parts.bus(), parts.registries()
    regs.add_municipality("102016")
    reg = regs.municipality("102016")
    numbers = []
    for i in range(3):
        person = NewPerson(
            family_name="佐藤",
            given_name="花子",
            family_name_kana="サトウ",
            given_name_kana="ハナコ",
            date_of_birth=dt.date(1988, 7, 1 + i),
            sex=Sex.FEMALE,
        )
        r = reg.move_in_from_abroad(person, on=dt.date(2024, 5, 1), address=f"前橋市本町{i}番")
        numbers.append(r.individual_number)
    regs.sync()
    yield Town(settings, clock, bus, regs, numbers)
    parts.close()


@pytest.fixture
def net(town: Town) -> Iterator[LocalNetwork]:
    network = LocalNetwork(town.settings, town.clock, town.registries.index)
    yield network
    network.close()


def test_ask_runs_the_exchange_and_every_side_records_it(net: LocalNetwork, town: Town) -> None:
    number = town.numbers[0]
    code_a = net.issue_code(A, number)
    code_b = net.issue_code(B, number)
    assert code_a != code_b
    assert net.issue_code(A, number) == code_a  # once per (person, agency)
    net.node(A).store_item(code_a, "local_tax", TAX)

    got = net.ask(B, code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="k-local-1")

    assert isinstance(got, LocalTaxInfo)
    assert (got.fiscal_year, got.municipal_tax) == (2025, 182_700)
    exchange_id = exchange_id_of(exchange_ref(B, "k-local-1"))
    [at_b] = net.node(B).store.records()
    [at_a] = net.node(A).store.records()
    [at_hub] = net.records_for_number(number)
    assert (at_b.role, at_b.peer, at_b.item, at_b.outcome) == (
        "requester",
        A,
        "local_tax",
        Outcome.PROVIDED,
    )
    assert (at_a.role, at_a.peer, at_a.outcome) == ("provider", B, Outcome.PROVIDED)
    assert (at_hub.requester, at_hub.provider, at_hub.affair, at_hub.outcome) == (
        B,
        A,
        AFFAIR,
        Outcome.PROVIDED,
    )
    assert at_a.exchange_id == at_b.exchange_id == at_hub.exchange_id == exchange_id
    # Nothing in any record names the person or carries the content.
    for record in (at_a, at_b, at_hub):
        text = repr(record)
        for secret in (number, code_a, code_b, "182700", "4321000"):
            assert secret not in text
    # Another person's history is empty; the hub's records stay a valid chain.
    assert net.records_for_number(town.numbers[1]) == []
    assert net.hub.records.verify_chain().ok


def test_nodes_open_lazily_once_per_agency(net: LocalNetwork) -> None:
    assert net.health()["hub"] == "idle"
    assert net.open_nodes() == []
    a = net.node(A)
    assert net.node(A) is a
    assert net.open_nodes() == [A]
    assert a.store.get_item("a" * 26, "local_tax") is None
    with pytest.raises(UnknownAgency):
        net.node("lg-999999")
    assert net.open_nodes() == [A]
    health = net.health()
    assert health["nodes_open"] == 1
    assert health["allow_list"]["version"] == net.allow_list.version
    assert {a.id for a in net.agencies("pension_service")} == {"nenkin"}
    assert A in {a.id for a in net.agencies()}


def test_refusal_outside_the_allow_list_is_recorded(net: LocalNetwork, town: Town) -> None:
    number = town.numbers[0]
    code_b = net.issue_code(B, number)
    assert not net.allow_list.is_allowed("municipality", AFFAIR, "municipality", "welfare")
    with pytest.raises(ExchangeRefused) as refused:
        net.ask(B, code_b, AFFAIR, "welfare", provider_agency=A)
    assert refused.value.context["outcome"] == "not_allowed"
    [at_b] = net.node(B).store.records()
    assert (at_b.item, at_b.outcome) == ("welfare", Outcome.NOT_ALLOWED)
    [at_hub] = net.records_for_number(number)
    assert at_hub.outcome is Outcome.NOT_ALLOWED
    assert at_hub.exchange_id == at_b.exchange_id
    assert net.node(A).store.records() == []  # never reached the provider


def test_ask_many_returns_one_outcome_per_request(net: LocalNetwork, town: Town) -> None:
    code_a = net.issue_code(A, town.numbers[0])
    net.node(A).store_item(code_a, "local_tax", TAX)
    codes_b = [net.issue_code(B, n) for n in town.numbers[:2]]
    out = net.ask_many(
        B,
        [
            RequestSpec(codes_b[0], AFFAIR, "local_tax", provider_agency=A),
            RequestSpec(codes_b[1], AFFAIR, "local_tax", provider_agency=A),  # A holds none
            RequestSpec(codes_b[0], AFFAIR, "welfare", provider_agency=A),  # not allowed
            RequestSpec(codes_b[0], AFFAIR, "local_tax", provider_agency="lg-999999"),
        ],
    )
    assert isinstance(out[0], LocalTaxInfo)
    assert out[1] is None
    assert isinstance(out[2], ExchangeRefused)
    assert isinstance(out[3], UnknownAgency)
    outcomes = sorted(str(r.outcome) for r in net.node(B).store.records())
    assert outcomes == ["no_data", "not_allowed", "provided"]


class _Flaky(LocalNetwork):
    """A network whose provider node is down until ``up`` is set."""

    up = False

    def deliver(self, provider: str, forwarded_tokens: list[str]) -> list[str | OpenMynaError]:
        if not self.up:
            raise ProviderUnavailable("the provider node does not answer")
        return super().deliver(provider, forwarded_tokens)


def test_provider_down_then_retry_completes_once(town: Town) -> None:
    net = _Flaky(town.settings, town.clock, town.registries.index)
    try:
        number = town.numbers[2]
        code_a = net.issue_code(A, number)
        code_b = net.issue_code(B, number)
        net.node(A).store_item(code_a, "local_tax", TAX)
        with pytest.raises(ProviderUnavailable):
            net.ask(B, code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="retry-0001")
        assert net.records_for_number(number) == []  # no record while the exchange is open
        assert net.node(B).store.records() == []
        net.up = True
        got = net.ask(
            B, code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="retry-0001"
        )
        assert isinstance(got, LocalTaxInfo)
        [at_hub] = net.records_for_number(number)
        assert at_hub.outcome is Outcome.PROVIDED
        assert [r.outcome for r in net.node(B).store.records()] == [Outcome.PROVIDED]
    finally:
        net.close()


def test_unknown_provider_is_unavailable_to_the_hub(net: LocalNetwork) -> None:
    with pytest.raises(ProviderUnavailable):
        net.deliver("no-such-agency", ["x.y.z"])
    [refusal] = net.deliver(A, ["not-a-token"])
    assert isinstance(refusal, OpenMynaError)


def test_a_second_network_on_the_same_data_sees_the_same_state(
    net: LocalNetwork, town: Town
) -> None:
    number = town.numbers[0]
    code_a = net.issue_code(A, number)
    code_b = net.issue_code(B, number)
    net.node(A).store_item(code_a, "local_tax", TAX)
    assert net.ask(B, code_b, AFFAIR, "local_tax", provider_agency=A) is not None
    with LocalNetwork(town.settings, town.clock, town.registries.index) as other:
        assert other.issue_code(B, number) == code_b
        assert [r.outcome for r in other.records_for_number(number)] == [Outcome.PROVIDED]
        assert other.ask(B, code_b, AFFAIR, "local_tax", provider_agency=A) is not None
    assert len(net.records_for_number(number)) == 2


def test_a_closed_network_refuses_use(town: Town) -> None:
    net = LocalNetwork(town.settings, town.clock, town.registries.index)
    net.node(A)
    net.close()
    net.close()  # idempotent
    with pytest.raises(RuntimeError):
        net.node(A)
    with pytest.raises(RuntimeError):
        net.issue_code(A, town.numbers[0])
