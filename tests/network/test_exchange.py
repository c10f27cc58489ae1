"""One exchange end to end, in process: requester node → hub → provider node → hub → requester."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography import x509
from netdata import AFFAIR, TAX, A, B, add_residents

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network import encryption, signing
from openmyna.network import messages as m
from openmyna.network.agencies import AgencyDirectory
from openmyna.network.allow_list import default_allow_list
from openmyna.network.codes import AgencyCodes
from openmyna.network.errors import (
    AmbiguousProvider,
    ExchangeRefused,
    IdempotencyConflict,
    MalformedItem,
    MessageError,
    ProviderUnavailable,
    ReplayedMessage,
    TamperedContent,
    TamperedMessage,
)
from openmyna.network.exchange import RequestSpec, exchange_id_of, exchange_ref
from openmyna.network.hub import Hub
from openmyna.network.local_layouts import LocalTaxInfo
from openmyna.network.netca import HUB_ID, NetworkCA, NodeIdentity
from openmyna.network.node import AgencyNode
from openmyna.network.node_store import node_metadata
from openmyna.network.records import ExchangeRecords, Outcome


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
    parts = Builder(settings, clock)
    numbers = add_residents(parts.registries(), 8)
    ca = NetworkCA.open(settings, clock)
    ids = {agency: ca.node(agency) for agency in (HUB_ID, A, B)}

    def resolve(kid: str) -> x509.Certificate | None:
        identity = ids.get(kid)
        return identity.certificate if identity is not None else None

    codes = AgencyCodes.open(settings, clock, parts.identity_index())
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
    parts.close()


class Capture:
    """A Deliver that hands forwarded requests to the provider node, keeping every token."""

    def __init__(self, w: World, *, down: bool = False) -> None:
        self.w = w
        self.down = down
        self.forwarded: list[str] = []
        self.answers: list[str | OpenMynaError] = []
        self.tamper: Callable[[str], str] | None = None

    def __call__(self, provider: str, tokens: list[str]) -> list[str | OpenMynaError]:
        assert provider == A
        if self.down:
            raise ProviderUnavailable("the provider's node does not answer")
        self.forwarded += tokens
        answers = self.w.a.answer_many(tokens)
        if self.tamper is not None:
            answers = [self.tamper(a) if isinstance(a, str) else a for a in answers]
        self.answers += answers
        return answers


def _exchange(w: World, request_token: str) -> tuple[str, str, str]:
    """Run a request through hub and provider: (forwarded, answer, result) tokens."""
    deliver = Capture(w)
    result = w.hub.exchange(request_token, deliver)
    [fwd] = deliver.forwarded
    [answer] = deliver.answers
    assert isinstance(answer, str)
    return fwd, answer, result


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
    fwd = signing.verify(fwd_token, lambda k: w.ids[HUB_ID].certificate, clock=w.clock)
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
    assert at_a.exchange_id == at_b.exchange_id == exchange_id_of(exchange_ref(B, "k-000001"))
    [hub_record] = w.records.for_person(w.codes.person_key_of_number(w.numbers[0]))
    assert hub_record.exchange_id == at_b.exchange_id
    # A result is accepted once only.
    with pytest.raises(ReplayedMessage):
        w.b.receive_result(result_token)


def test_the_hub_cannot_decrypt_the_content(world: World) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    w.a.store_item(code_a, "local_tax", TAX)
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    _, answer_token, _ = _exchange(w, token)
    ans = signing.verify(answer_token, lambda k: w.ids[A].certificate, clock=w.clock)
    assert isinstance(ans, m.ProviderAnswer)
    assert ans.content is not None
    for outsider in (HUB_ID, A):
        with pytest.raises(TamperedContent):
            encryption.decrypt(ans.content, w.ids[outsider].private_key, request_id=ans.request_id)
    body = encryption.decrypt(ans.content, w.ids[B].private_key, request_id=ans.request_id)
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
    token = w.b.request(code_b, AFFAIR, "welfare", provider_agency=A, idempotency_key="welfare-1")
    deliver = Capture(w)
    result = w.hub.exchange(token, deliver)
    assert deliver.forwarded == []  # the provider never hears of it
    with pytest.raises(ExchangeRefused) as refused:
        w.b.receive_result(result)
    assert refused.value.context["outcome"] == "not_allowed"
    assert refused.value.context["reason"] == "NOT_ALLOWED"
    assert _hub_outcomes(w) == [(B, A, "welfare", Outcome.NOT_ALLOWED)]
    [at_b] = w.b.store.records()
    assert (at_b.peer, at_b.item, at_b.outcome) == (A, "welfare", Outcome.NOT_ALLOWED)
    assert w.a.store.records() == []
    # Asking again under the same key gets the same refusal, not a second record.
    again = w.b.request(code_b, AFFAIR, "welfare", provider_agency=A, idempotency_key="welfare-1")
    with pytest.raises(ExchangeRefused):
        w.b.receive_result(w.hub.exchange(again, deliver))
    assert w.records.count() == 1
    assert len(w.b.store.records()) == 1


def test_unknown_code_is_refused_and_recorded(world: World) -> None:
    w = world
    w.codes.issue(B, w.numbers[0])
    stranger = "a" * 26  # well-formed, never issued
    token = w.b.request(stranger, AFFAIR, "local_tax", provider_agency=A)
    with pytest.raises(ExchangeRefused) as refused:
        w.b.receive_result(w.hub.exchange(token, Capture(w)))
    assert refused.value.context == {"outcome": "failed", "reason": "UNKNOWN_CODE"}
    # The hub cannot tell whose code it was: no record names the person.
    assert w.records.for_person(w.codes.person_key_of_number(w.numbers[0])) == []
    assert w.records.count() == 1
    [at_b] = w.b.store.records()
    assert at_b.outcome == Outcome.FAILED


def test_tampered_request_token_is_refused(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
    header, payload, signature = token.split(".")
    forged = m.ExchangeRequest.model_validate_json(signing._b64decode(payload)).model_copy(
        update={"affair": "public_assistance"}
    )
    tampered = ".".join([header, signing._b64encode(forged.model_dump_json().encode()), signature])
    deliver = Capture(w)
    with pytest.raises(TamperedMessage):
        w.hub.exchange(tampered, deliver)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(MessageError):
        w.hub.exchange(flipped, deliver)
    assert w.records.count() == 0
    assert deliver.forwarded == []
    # The genuine token still goes through, once.
    w.hub.exchange(token, deliver)
    with pytest.raises(ReplayedMessage):
        w.hub.exchange(token, deliver)
    assert w.records.count() == 1


def test_replay_to_a_second_hub_on_the_same_database_is_refused(
    world: World, settings: Settings
) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    other = Hub.open(
        settings,
        w.clock,
        w.codes._identities,
        w.ids[HUB_ID],
        lambda kid: w.ids[kid].certificate if kid in w.ids else None,
    )
    try:
        token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
        w.b.receive_result(w.hub.exchange(token, Capture(w)))
        with pytest.raises(ReplayedMessage):
            other.exchange(token, Capture(w))
        # A new request goes through the other hub just as well, into the same chain.
        again = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)
        assert w.b.receive_result(other.exchange(again, Capture(w))) is None
        assert w.records.count() == 2
        assert w.records.verify_chain().ok
    finally:
        other.close()


def test_provider_down_then_retry_gives_one_exchange_and_one_record(world: World) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    w.a.store_item(code_a, "local_tax", TAX)
    first = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="retry-01")
    with pytest.raises(ProviderUnavailable):
        w.hub.exchange(first, Capture(w, down=True))
    assert w.records.count() == 0  # nothing happened yet: no record anywhere
    assert w.hub.state.open_count() == 1
    assert w.a.store.records() == w.b.store.records() == []
    retry = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="retry-01")
    got = w.b.receive_result(w.hub.exchange(retry, Capture(w)))
    assert isinstance(got, LocalTaxInfo)
    assert w.hub.state.open_count() == 0
    [hub_record] = w.records.for_person(w.codes.person_key_of_number(w.numbers[0]))
    [at_a] = w.a.store.records()
    [at_b] = w.b.store.records()
    assert hub_record.exchange_id == at_a.exchange_id == at_b.exchange_id
    assert hub_record.outcome == at_a.outcome == at_b.outcome == Outcome.PROVIDED


def test_retry_after_a_lost_result_gives_the_item_without_a_second_record(world: World) -> None:
    """The hub recorded the exchange, then died before answering: the retry is served again."""
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    w.a.store_item(code_a, "local_tax", TAX)
    first = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="lost-001")
    w.hub.exchange(first, Capture(w))  # the result never reaches B
    retry = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="lost-001")
    got = w.b.receive_result(w.hub.exchange(retry, Capture(w)))
    assert isinstance(got, LocalTaxInfo)
    assert w.records.count() == 1
    assert len(w.a.store.records()) == 1  # A answered twice, recorded once
    assert len(w.b.store.records()) == 1


def test_an_idempotency_key_cannot_be_reused_for_another_request(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="same-key")
    w.hub.exchange(token, Capture(w))
    with pytest.raises(IdempotencyConflict):  # refused by the node before anything is sent
        w.b.request(
            code_b, AFFAIR, "resident_registry", provider_agency=A, idempotency_key="same-key"
        )
    # A requester that ignores its own node's check is refused by the hub too.
    now = w.clock.now()
    other = m.ExchangeRequest(
        message_id=m.new_message_id(),
        sender=B,
        issued_at=now,
        expires_at=now + dt.timedelta(minutes=1),
        idempotency_key="same-key",
        requester_code=code_b,
        affair=AFFAIR,
        item="resident_registry",
        provider_agency=A,
    )
    with pytest.raises(IdempotencyConflict):
        w.hub.exchange(signing.sign(other, w.ids[B].private_key, B), Capture(w))
    assert w.records.count() == 1


def test_a_batch_shares_one_signature_and_one_record_transaction(world: World) -> None:
    w = world
    codes_b = []
    for number in w.numbers:
        code_a = w.codes.issue(A, number)
        codes_b.append(w.codes.issue(B, number))
        w.a.store_item(code_a, "local_tax", TAX)
    specs = [RequestSpec(c, AFFAIR, "local_tax", provider_agency=A) for c in codes_b]
    specs.append(RequestSpec(codes_b[0], AFFAIR, "welfare", provider_agency=A))
    tokens = w.b.request_many(specs)
    assert all(signing.BATCH_SEPARATOR in t for t in tokens)
    deliver = Capture(w)
    results = w.hub.exchange_many([*tokens, "not-a-token"], deliver)
    assert isinstance(results[-1], TamperedMessage)
    got = w.b.receive_results([r for r in results[:-1] if isinstance(r, str)])
    assert [type(g).__name__ for g in got] == ["LocalTaxInfo", "LocalTaxInfo", "ExchangeRefused"]
    assert len({t.split("~")[0] for t in deliver.forwarded}) == 1  # one hub signature
    assert w.records.count() == 3
    assert len(w.b.store.records()) == 3
    assert len(w.a.store.records()) == 2
    assert w.records.verify_chain().ok


def test_malformed_item_from_the_provider_is_refused_and_recorded(world: World) -> None:
    w = world
    code_a = w.codes.issue(A, w.numbers[0])
    code_b = w.codes.issue(B, w.numbers[0])
    with pytest.raises(MalformedItem):
        w.a.store_item(code_a, "local_tax", {**TAX, "taxable_income": 9_000_000})
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)

    def misbehave(answer_token: str) -> str:
        # A misbehaving provider answers with data that does not fit the layout.
        ans = signing.verify(answer_token, lambda k: w.ids[A].certificate, clock=w.clock)
        assert isinstance(ans, m.ProviderAnswer)
        bad = {"item": "local_tax", "version": 1, "data": {**TAX, "taxable_income": 9_000_000}}
        content = encryption.encrypt_for(bad, w.ids[B].certificate, request_id=ans.request_id)
        forged = ans.model_copy(update={"outcome": "provided", "content": content})
        return signing.sign(forged, w.ids[A].private_key, A)

    deliver = Capture(w)
    deliver.tamper = misbehave
    result = w.hub.exchange(token, deliver)
    with pytest.raises(MalformedItem):
        w.b.receive_result(result)
    [at_b] = w.b.store.records()
    assert (at_b.peer, at_b.outcome) == (A, Outcome.INVALID_DATA)
    # The hub cannot see inside: it recorded what the provider claimed.
    assert _hub_outcomes(w) == [(B, A, "local_tax", Outcome.PROVIDED)]


def test_a_forged_or_misdirected_answer_fails_the_exchange(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    token = w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A)

    def forge(answer_token: str) -> str:  # signed by B, claiming to be A
        ans = signing.verify(answer_token, lambda k: w.ids[A].certificate, clock=w.clock)
        assert isinstance(ans, m.ProviderAnswer)
        header, payload, _ = signing.sign(ans, w.ids[A].private_key, A).split(".")
        _, _, signature = signing.sign(
            ans.model_copy(update={"sender": B}), w.ids[B].private_key, B
        ).split(".")
        return ".".join([header, payload, signature])

    deliver = Capture(w)
    deliver.tamper = forge
    with pytest.raises(ExchangeRefused) as refused:
        w.b.receive_result(w.hub.exchange(token, deliver))
    assert refused.value.context == {"outcome": "failed", "reason": "TAMPERED_MESSAGE"}
    assert _hub_outcomes(w) == [(B, A, "local_tax", Outcome.FAILED)]
    [at_b] = w.b.store.records()
    assert at_b.outcome == Outcome.FAILED


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
        w.hub.exchange(token, Capture(w))


def test_exchange_ids_never_hold_twelve_digits() -> None:
    assert exchange_id_of("0" * 32) == "00000000-00000000-00000000-00000000"
    assert not re.search(r"\d{12}", exchange_id_of("1234567890" * 3 + "12"))


def test_node_migration_matches_the_tables(world: World) -> None:
    with world.a.store.store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, node_metadata) == []


def test_a_malformed_request_is_refused_before_anything_is_signed(world: World) -> None:
    w = world
    code_b = w.codes.issue(B, w.numbers[0])
    with pytest.raises(InvalidInput) as bad_key:
        w.b.request(code_b, AFFAIR, "local_tax", provider_agency=A, idempotency_key="k")
    assert bad_key.value.context["fields"] == ["idempotency_key"]
    with pytest.raises(InvalidInput):
        w.b.request(w.numbers[0], AFFAIR, "local_tax", provider_agency=A)  # a number, not a code
    with pytest.raises(InvalidInput):
        w.b.request(code_b, AFFAIR, "local_tax")  # no provider named
    assert w.b.store.records() == []
