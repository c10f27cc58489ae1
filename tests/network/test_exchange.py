"""One exchange end to end, in process: requester node → hub → provider node → hub → requester."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography import x509

from openmyna.bus import open_bus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.network import messages as m
from openmyna.network.agencies import AgencyDirectory
from openmyna.network.allow_list import NotAllowed, default_allow_list
from openmyna.network.codes import AgencyCodes
from openmyna.network.exchange import (
    AgencyNode,
    AmbiguousProvider,
    Hub,
    UnknownExchange,
    exchange_id_of,
)
from openmyna.network.layouts import LocalTaxInfo, MalformedItem
from openmyna.network.netca import HUB_ID, NetworkCA, NodeIdentity
from openmyna.network.node_store import node_metadata
from openmyna.network.records import ExchangeRecords, Outcome
from openmyna.registry import NewPerson, Registries, Sex

MAEBASHI = "102016"
A = "lg-102016"  # 前橋市: the provider (it levies the resident tax)
B = "lg-131024"  # 中央区: the requester (child allowance)
AFFAIR = "child_allowance"
TAX = {
    "as_of": "2025-06-01",
    "fiscal_year": 2025,
    "levying_lg_code": "102016",
    "status": "taxed",
    "income_categories": ["salary"],
    "total_income": 4_200_000,
    "taxable_income": 2_900_000,
    "municipal_tax": 174_321,
    "prefectural_tax": 116_000,
}


@dataclasses.dataclass
class World:
    clock: FixedClock
    hub: Hub
    a: AgencyNode
    b: AgencyNode
    codes: AgencyCodes
    records: ExchangeRecords
    ids: dict[str, NodeIdentity]
    numbers: list[str]


@pytest.fixture
def world(settings: Settings, clock: FixedClock) -> Iterator[World]:
    """A registry with two residents, the network CA, the hub and the nodes of A and B."""
    bus = open_bus(settings)
    regs = Registries(settings, bus, clock)
    regs.add_municipality(MAEBASHI)
    town = regs.municipality(MAEBASHI)
    numbers = []
    for i in range(8):
        person = NewPerson(
            family_name="山田",
            given_name="太郎",
            family_name_kana="ヤマダ",
            given_name_kana="タロウ",
            date_of_birth=dt.date(1985, 4, 2 + i),
            sex=Sex.MALE,
        )
        r = town.move_in_from_abroad(person, on=dt.date(2025, 3, 1), address=f"前橋市大手町{i}番")
        numbers.append(r.individual_number)
    regs.sync()
    ca = NetworkCA.open(settings, clock)
    ids = {agency: ca.node(agency) for agency in (HUB_ID, A, B)}

    def resolve(kid: str) -> x509.Certificate | None:
        identity = ids.get(kid)
        return identity.certificate if identity is not None else None

    codes = AgencyCodes.open(settings, clock, regs.index)
    records = ExchangeRecords.open(settings, clock)
    directory = AgencyDirectory.default()
    numbers = numbers[:2]
    hub = Hub(
        settings, clock, codes, records, default_allow_list(), directory, ids[HUB_ID], resolve
    )
    hub_cert = ids[HUB_ID].certificate
    a = AgencyNode(settings, clock, A, ids[A], hub_cert, resolve_key=resolve)
    b = AgencyNode(settings, clock, B, ids[B], hub_cert, resolve_key=resolve)
    yield World(clock, hub, a, b, codes, records, ids, numbers)
    a.close()
    b.close()
    records.close()
    codes.close()
    regs.close()
    bus.close()


def _exchange(w: World, request_token: str) -> tuple[str, str, str]:
    """Run a request through hub and provider: (forwarded, answer, result) tokens."""
    fwd = w.hub.forward(request_token)
    assert fwd.provider == A
    answer = w.a.answer(fwd.token)
    return fwd.token, answer, w.hub.relay(answer)


def _hub_outcomes(w: World) -> list[tuple[str, str, str, Outcome]]:
    rows = w.records.for_person(w.codes.person_key_of_number(w.numbers[0]))
    return [(r.requester, r.provider, r.item, r.outcome) for r in rows]


def test_municipality_b_gets_local_tax_from_a(world: World) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    assert code_a != code_b
    w.a.store_item(code_a, "local_tax", TAX)

    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="k-000001")
    fwd_token, answer_token, result_token = _exchange(w, token)
    got = w.b.receive_result(result_token)

    assert isinstance(got, LocalTaxInfo)
    assert got.municipal_tax == 174_321
    assert got.fiscal_year == 2025
    # The forwarded request names the person by A's code, never by B's.
    fwd = m.verify(fwd_token, lambda k: w.ids[HUB_ID].certificate, clock=w.clock)
    assert isinstance(fwd, m.ForwardedRequest)
    assert fwd.provider_code == code_a
    assert code_b not in fwd_token
    assert code_b not in answer_token
    # Recorded at the hub, at the provider and at the requester, without content.
    assert _hub_outcomes(w) == [(B, A, "local_tax", Outcome.PROVIDED)]
    [at_a] = w.a.store.records()
    [at_b] = w.b.store.records()
    assert (at_a.role, at_a.peer, at_a.affair, at_a.item, at_a.outcome) == (
        "provider",
        B,
        AFFAIR,
        "local_tax",
        Outcome.PROVIDED,
    )
    assert (at_b.role, at_b.peer, at_b.outcome) == ("requester", A, Outcome.PROVIDED)
    assert at_a.exchange_id == at_b.exchange_id is not None
    [hub_record] = w.records.for_person(w.codes.person_key_of_number(w.numbers[0]))
    assert hub_record.exchange_id == at_b.exchange_id
    # A result is accepted once only.
    with pytest.raises(m.ReplayedMessage):
        w.b.receive_result(result_token)


def test_the_hub_cannot_decrypt_the_content(world: World) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    w.a.store_item(code_a, "local_tax", TAX)
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    _, answer_token, _ = _exchange(w, token)
    ans = m.verify(answer_token, lambda k: w.ids[A].certificate, clock=w.clock)
    assert isinstance(ans, m.ProviderAnswer)
    assert ans.content is not None
    for outsider in (HUB_ID, A):
        with pytest.raises(m.TamperedContent):
            m.decrypt(ans.content, w.ids[outsider].private_key, request_id=ans.request_id)
    body = m.decrypt(ans.content, w.ids[B].private_key, request_id=ans.request_id)
    assert body["data"]["municipal_tax"] == 174_321


def test_no_data_when_the_provider_holds_nothing(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    _, _, result = _exchange(w, token)
    assert w.b.receive_result(result) is None
    assert _hub_outcomes(w) == [(B, A, "local_tax", Outcome.NO_DATA)]
    assert [r.outcome for r in w.b.store.records()] == [Outcome.NO_DATA]
    assert [r.outcome for r in w.a.store.records()] == [Outcome.NO_DATA]


def test_request_outside_the_allow_list_is_refused_and_recorded(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    assert not default_allow_list().is_allowed("municipality", AFFAIR, "municipality", "welfare")
    token = w.b.request(code_b, AFFAIR, "welfare", provider_agency=A)
    with pytest.raises(NotAllowed) as refused:
        w.hub.forward(token)
    w.b.refused(token, refused.value)
    assert _hub_outcomes(w) == [(B, A, "welfare", Outcome.NOT_ALLOWED)]
    [at_b] = w.b.store.records()
    assert (at_b.peer, at_b.item, at_b.outcome) == (A, "welfare", Outcome.NOT_ALLOWED)
    assert w.a.store.records() == []
    with pytest.raises(UnknownExchange):
        w.b.refused(token, refused.value)


def test_tampered_request_token_is_refused(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    header, payload, signature = token.split(".")
    forged = m.ExchangeRequest.model_validate_json(m._b64decode(payload)).model_copy(
        update={"affair": "public_assistance"}
    )
    tampered = ".".join([header, m._b64encode(forged.model_dump_json().encode()), signature])
    with pytest.raises(m.TamperedMessage):
        w.hub.forward(tampered)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(m.MessageError):
        w.hub.forward(flipped)
    assert w.records.count() == 0
    # The genuine token still goes through, once.
    w.hub.forward(token)
    with pytest.raises(m.ReplayedMessage):
        w.hub.forward(token)


def test_malformed_item_from_the_provider_is_refused_and_recorded(world: World) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    with pytest.raises(MalformedItem):
        w.a.store_item(code_a, "local_tax", {**TAX, "taxable_income": 9_000_000})
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    fwd_token = w.hub.forward(token).token
    fwd = m.verify(fwd_token, lambda k: w.ids[HUB_ID].certificate, clock=w.clock)
    assert isinstance(fwd, m.ForwardedRequest)
    # A misbehaving provider answers with data that does not fit the layout.
    bad = {"item": "local_tax", "version": 1, "data": {**TAX, "taxable_income": 9_000_000}}
    now = w.clock.now()
    answer = m.ProviderAnswer(
        message_id=m.new_message_id(),
        sender=A,
        issued_at=now,
        expires_at=now + dt.timedelta(minutes=1),
        request_id=fwd.request_id,
        forwarded_id=fwd.message_id,
        outcome="provided",
        content=m.encrypt_for(bad, w.ids[B].certificate, request_id=fwd.request_id),
    )
    result = w.hub.relay(m.sign(answer, w.ids[A].private_key, A))
    with pytest.raises(MalformedItem):
        w.b.receive_result(result)
    [at_b] = w.b.store.records()
    assert (at_b.peer, at_b.outcome) == (A, Outcome.INVALID_DATA)
    # The hub cannot see inside: it recorded what the provider claimed.
    assert _hub_outcomes(w) == [(B, A, "local_tax", Outcome.PROVIDED)]


def test_answer_for_an_unknown_exchange_is_refused(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    _, answer, _ = _exchange(w, token)
    with pytest.raises(m.ReplayedMessage):
        w.hub.relay(answer)
    now = w.clock.now()
    stray = m.ProviderAnswer(
        message_id=m.new_message_id(),
        sender=A,
        issued_at=now,
        expires_at=now + dt.timedelta(minutes=1),
        request_id=m.new_message_id(),
        forwarded_id=m.new_message_id(),
        outcome="no_data",
    )
    with pytest.raises(UnknownExchange):
        w.hub.relay(m.sign(stray, w.ids[A].private_key, A))
    assert w.records.count() == 1


def test_items_persist_in_the_node_database(world: World, settings: Settings) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[1])
    w.a.store_item(code_a, "local_tax", TAX)
    w.a.store_item(code_a, "local_tax", {**TAX, "municipal_tax": 1000})  # replaces
    again = AgencyNode(
        settings, w.clock, A, w.ids[A], w.ids[HUB_ID].certificate, resolve_key=lambda k: None
    )
    try:
        held = again.store.get_item(code_a, "local_tax")
        assert held is not None
        assert held[1]["municipal_tax"] == 1000
        assert again.store.get_item(code_a, "welfare") is None
        assert w.b.store.get_item(code_a, "local_tax") is None  # B's database is its own
    finally:
        again.close()


def test_provider_by_kind_must_name_one_agency(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_kind="municipality")
    with pytest.raises(AmbiguousProvider):
        w.hub.forward(token)


def test_exchange_ids_never_hold_twelve_digits() -> None:
    assert exchange_id_of("0" * 32) == "00000000-00000000-00000000-00000000"
    assert not re.search(r"\d{12}", exchange_id_of("1234567890" * 3 + "12"))


def test_node_migration_matches_the_tables(world: World) -> None:
    with world.a.store.store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, node_metadata) == []
