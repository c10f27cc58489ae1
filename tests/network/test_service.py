"""The hub and agency nodes as HTTP servers over real mutual TLS (uvicorn in threads, httpx2)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from netdata import AFFAIR, TAX, A, B, add_residents

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import HttpSettings, Settings
from openmyna.errors import OpenMynaError
from openmyna.network import tls
from openmyna.network.clients import NodeClient, error_from_problem
from openmyna.network.errors import UnexpectedPeer
from openmyna.network.exchange import exchange_id_of, exchange_ref
from openmyna.network.hub import Hub
from openmyna.network.netca import HUB_ID, NetworkCA, NodeIdentity
from openmyna.network.node import AgencyNode
from openmyna.network.processes import make_server
from openmyna.network.records import Outcome
from openmyna.network.service import check_node_url, create_hub_app, create_node_app, token_signer


class Running:
    """A uvicorn server for an app in a thread, on a fixed port, with mutual TLS."""

    def __init__(self, app: FastAPI, identity: NodeIdentity, ca: NetworkCA, port: int) -> None:
        self.port = port
        self.url = f"https://127.0.0.1:{port}"
        sock = socket.create_server(("127.0.0.1", port))
        self.server = make_server(app, identity, ca, "127.0.0.1", port, limits=HttpSettings())
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Net:
    settings: Settings
    clock: FixedClock
    ca: NetworkCA
    hub: Hub
    nodes: dict[str, AgencyNode]
    servers: dict[str, Running]
    numbers: list[str]

    def client(self, agency: str, *, to: str | None = None) -> NodeClient:
        """A client presenting ``agency``'s certificate to the node of ``to`` (default: own)."""
        target = to or agency
        return NodeClient.connect(self.ca.node(agency), self.ca, self.servers[target].url)

    def raw(self, identity: NodeIdentity) -> httpx2.Client:
        return tls.client(identity, self.ca.ca_certificate(), self.ca.crl_path, trust_env=False)

    def start_node(self, agency: str, port: int | None = None) -> Running:
        node = self.nodes[agency]
        port = port or free_port()
        app = create_node_app(
            node, self.ca, self.servers[HUB_ID].url, advertise_url=f"https://127.0.0.1:{port}"
        )
        running = Running(app, node.identity, self.ca, port)
        self.servers[agency] = running
        deadline = time.monotonic() + 10
        with self.raw(node.identity) as http:
            while not http.get(f"{running.url}/healthz").json()["registered"]:
                assert time.monotonic() < deadline, "the node did not register"
                time.sleep(0.02)
        return running

    def hub_outcomes(self, number: str) -> list[tuple[str, str, str, Outcome, str | None]]:
        rows = self.hub.records.for_person(self.hub.codes.person_key_of_number(number))
        return [(r.requester, r.provider, r.item, r.outcome, r.exchange_id) for r in rows]


@pytest.fixture
def net(settings: Settings, clock: FixedClock) -> Iterator[Net]:
    """Residents in 前橋市, the hub and the nodes of A and B as HTTPS servers."""
    with Builder(settings, clock) as town:
        numbers = add_residents(town.registries(), 3)
    parts = Builder(settings, clock)
    hub, ca = parts.hub(), parts.network_ca()
    nodes = {agency: parts.node(agency) for agency in (A, B)}
    servers = {HUB_ID: Running(create_hub_app(hub, ca), hub.identity, ca, free_port())}
    net = Net(settings, clock, ca, hub, nodes, servers, numbers)
    for agency in (A, B):
        net.start_node(agency)
    yield net
    for running in servers.values():
        running.stop()
    parts.close()


def _problem(exc: pytest.ExceptionInfo[OpenMynaError]) -> tuple[str, int]:
    return exc.value.code, exc.value.http_status


def _seed(net: Net, person: int = 0, *, item: bool = True) -> tuple[str, str]:
    """Codes of one person at A and B (asked over HTTP), A holding the person's local tax."""
    with net.client(A) as a, net.client(B) as b:
        code_a = a.issue_code(net.numbers[person])
        code_b = b.issue_code(net.numbers[person])
        if item:
            stored = a.store_item(code_a, "local_tax", TAX)
            assert stored["version"] == 1
    return code_a, code_b


def test_an_exchange_through_http_is_recorded_at_all_three(net: Net) -> None:
    code_a, code_b = _seed(net)
    assert code_a != code_b
    with net.client(B) as b:
        got = b.request(
            code=code_b,
            affair=AFFAIR,
            item="local_tax",
            provider_agency=A,
            idempotency_key="http-0001",
        )
        assert got["outcome"] == "provided"
        assert got["item"]["municipal_tax"] == 174_321
        [at_b] = b.records()
    with net.client(A) as a:
        [at_a] = a.records()
    exchange_id = exchange_id_of(exchange_ref(B, "http-0001"))
    assert net.hub_outcomes(net.numbers[0]) == [(B, A, "local_tax", Outcome.PROVIDED, exchange_id)]
    assert (at_b["role"], at_b["peer"], at_b["outcome"], at_b["exchange_id"]) == (
        "requester",
        A,
        "provided",
        exchange_id,
    )
    assert (at_a["role"], at_a["peer"], at_a["outcome"], at_a["exchange_id"]) == (
        "provider",
        B,
        "provided",
        exchange_id,
    )
    # The records carry no number and no code.
    assert net.numbers[0] not in str([at_a, at_b])
    assert code_a not in str([at_a, at_b])
    assert code_b not in str([at_a, at_b])


def test_batch_requests_through_http(net: Net) -> None:
    _, code_b0 = _seed(net, 0)
    _, code_b1 = _seed(net, 1, item=False)
    base = {"affair": AFFAIR, "item": "local_tax", "provider_agency": A}
    with net.client(B) as b:
        results = b.request_many(
            [
                {**base, "code": code_b0, "idempotency_key": "batch-0000"},
                {**base, "code": code_b1, "idempotency_key": "batch-0001"},
                {**base, "code": code_b0, "item": "welfare", "idempotency_key": "batch-0002"},
                {
                    **base,
                    "code": code_b0,
                    "provider_agency": "zz-nowhere",
                    "idempotency_key": "batch-0003",
                },
            ]
        )
        records = b.records()
    assert results[0]["outcome"] == "provided"
    assert results[0]["item"]["fiscal_year"] == 2025
    assert results[1] == {
        "outcome": "no_data",
        "item": None,
        "exchange_id": exchange_id_of(exchange_ref(B, "batch-0001")),
    }
    assert results[2]["error"]["code"] == "EXCHANGE_REFUSED"
    assert results[2]["error"]["outcome"] == "not_allowed"
    assert results[3]["error"]["code"] == "UNKNOWN_AGENCY"
    assert results[3]["error"]["idempotency_key"] == "batch-0003"
    assert sorted(r["outcome"] for r in records) == ["no_data", "not_allowed", "provided"]
    assert sorted(o for *_, o, _ in net.hub_outcomes(net.numbers[0])) == [
        Outcome.NOT_ALLOWED,
        Outcome.PROVIDED,
    ]


def test_certificates_of_another_ca_revoked_nodes_and_no_certificate_are_refused(
    net: Net, tmp_path: Any
) -> None:
    hub_url = net.servers[HUB_ID].url
    # Another network CA (same names, other keys): refused in the TLS handshake.
    other_dir = tmp_path / "other"
    other = NetworkCA.open(Settings(data_dir=other_dir), net.clock)
    intruder = other.node(B)
    with (
        httpx2.Client(
            verify=tls.client_context(intruder, net.ca.ca_certificate()), trust_env=False
        ) as http,
        pytest.raises(httpx2.TransportError),
    ):
        http.post(f"{hub_url}/v1/codes", json={"individual_number": net.numbers[0]})
    # No client certificate at all: refused in the handshake too.
    import ssl

    anonymous = ssl.create_default_context(cadata=_pem(net.ca))
    with (
        httpx2.Client(verify=anonymous, trust_env=False) as http,
        pytest.raises(httpx2.TransportError),
    ):
        http.get(f"{hub_url}/healthz")
    # A node revoked after the hub started: the hub's CRL is older, the app refuses.
    nenkin = net.ca.node("nenkin")
    with net.raw(nenkin) as http:
        assert http.get(f"{hub_url}/healthz").status_code == 200
        net.ca.revoke("nenkin")
        answer = http.post(f"{hub_url}/v1/codes", json={"individual_number": net.numbers[0]})
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "REVOKED_PEER"
    assert net.numbers[0] not in answer.text


def test_only_the_hub_may_ask_a_node_and_only_the_agency_may_use_its_node(net: Net) -> None:
    # B's node certificate at A's answer endpoint: not the hub.
    with net.raw(net.ca.node(B)) as http:
        answer = http.post(f"{net.servers[A].url}/v1/answer", json={"tokens": ["x.y.z"]})
    assert (answer.status_code, answer.json()["title"]) == (403, "UNEXPECTED_PEER")
    # B's certificate at A's own systems' API: not A.
    with net.client(B, to=A) as b_at_a, pytest.raises(UnexpectedPeer):
        b_at_a.records()
    # The hub's certificate at B's own API: not B either.
    with net.raw(net.ca.node(HUB_ID)) as http:
        answer = http.get(f"{net.servers[B].url}/v1/records")
    assert (answer.status_code, answer.json()["title"]) == (403, "UNEXPECTED_PEER")
    # A client that expects A's node but reaches B's refuses to talk.
    with (
        NodeClient.connect(net.ca.node(A), net.ca, net.servers[B].url) as confused,
        pytest.raises(UnexpectedPeer),
    ):
        confused.records()


def test_a_token_whose_sender_is_not_the_tls_peer_is_refused(net: Net) -> None:
    _, code_b = _seed(net)
    token = net.nodes[B].request(code_b, AFFAIR, "local_tax", provider_agency=A)
    assert token_signer(token) == B
    hub_url = net.servers[HUB_ID].url
    with net.raw(net.ca.node(A)) as http:  # A relays B's signed request as its own
        single = http.post(f"{hub_url}/v1/exchanges", json={"token": token})
        batch = http.post(f"{hub_url}/v1/exchanges/batch", json={"tokens": [token]})
    assert (single.status_code, single.json()["title"]) == (403, "SENDER_NOT_PEER")
    assert batch.status_code == 200
    assert batch.json()["results"][0]["error"]["code"] == "SENDER_NOT_PEER"
    assert net.hub.records.count() == 0
    # The same token from B itself goes through.
    with net.raw(net.ca.node(B)) as http:
        ok = http.post(f"{hub_url}/v1/exchanges", json={"token": token})
    assert ok.status_code == 200
    assert net.nodes[B].receive_result(ok.json()["result"]) is not None


def test_unknown_agency_and_bad_input_are_problems(net: Net) -> None:
    _, code_b = _seed(net)
    with net.client(B) as b:
        with pytest.raises(OpenMynaError) as unknown:
            b.request(code=code_b, affair=AFFAIR, item="local_tax", provider_agency="zz-none")
        assert unknown.value.code == "UNKNOWN_AGENCY"
        with pytest.raises(OpenMynaError) as invalid:
            b.call("POST", "/v1/codes", {"individual_number": "12345", "extra": 1})
        assert invalid.value.code == "INVALID_INPUT"
        assert "12345" not in str(invalid.value.problem())
        with pytest.raises(OpenMynaError) as short_key:
            b.request(
                code=code_b,
                affair=AFFAIR,
                item="local_tax",
                provider_agency=A,
                idempotency_key="k1",
            )
        assert (short_key.value.code, short_key.value.context["fields"]) == (
            "INVALID_INPUT",
            "body.idempotency_key",
        )
        with pytest.raises(OpenMynaError) as two_providers:
            b.request(
                code=code_b,
                affair=AFFAIR,
                item="local_tax",
                provider_agency=A,
                provider_kind="municipality",
            )
        assert two_providers.value.code == "INVALID_INPUT"
        with pytest.raises(OpenMynaError) as bad_item:
            b.store_item(code_b, "local_tax", {**TAX, "municipal_tax": "lots"})
        assert bad_item.value.code == "MALFORMED_ITEM"
        with pytest.raises(OpenMynaError) as no_person:
            b.issue_code("123456789018")
        assert no_person.value.code in ("PERSON_NOT_FOUND", "INVALID_NUMBER")
    # A node may register only https://host:port, and only for itself.
    with net.raw(net.ca.node(B)) as http:
        bad = http.put(f"{net.servers[HUB_ID].url}/v1/nodes/self", json={"url": "http://x:1"})
    assert (bad.status_code, bad.json()["title"]) == (400, "INVALID_NODE_URL")
    assert net.hub.node_url(B) == net.servers[B].url


def test_tampered_and_replayed_tokens_over_http(net: Net) -> None:
    _, code_b = _seed(net)
    hub_url = net.servers[HUB_ID].url
    token = net.nodes[B].request(code_b, AFFAIR, "local_tax", provider_agency=A)
    head, payload, sig = token.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    with net.raw(net.ca.node(B)) as http:
        tampered = http.post(
            f"{hub_url}/v1/exchanges", json={"token": f"{head}.{payload}.{flipped}"}
        )
        first = http.post(f"{hub_url}/v1/exchanges", json={"token": token})
        replayed = http.post(f"{hub_url}/v1/exchanges", json={"token": token})
    assert tampered.json()["title"] == "TAMPERED_MESSAGE"
    assert tampered.status_code >= 400
    assert first.status_code == 200
    assert replayed.json()["title"] == "REPLAYED_MESSAGE"
    assert replayed.status_code >= 400
    assert net.hub.records.count() == 1
    # A forwarded request replayed at the provider is refused per token.
    with net.raw(net.ca.node(HUB_ID)) as http:
        answer = http.post(f"{net.servers[A].url}/v1/answer", json={"tokens": ["a.b.c"]})
    assert answer.status_code == 200
    assert answer.json()["answers"][0]["error"]["code"] == "TAMPERED_MESSAGE"


def test_request_outside_the_allow_list_is_refused_and_recorded(net: Net) -> None:
    _, code_b = _seed(net)
    with net.client(B) as b:
        with pytest.raises(OpenMynaError) as refused:
            b.request(
                code=code_b,
                affair=AFFAIR,
                item="welfare",
                provider_agency=A,
                idempotency_key="welfare-1",
            )
        assert _problem(refused) == ("EXCHANGE_REFUSED", 403)
        assert refused.value.context["outcome"] == "not_allowed"
        [at_b] = b.records()
    assert (at_b["item"], at_b["outcome"]) == ("welfare", "not_allowed")
    [(requester, provider, item, outcome, _)] = net.hub_outcomes(net.numbers[0])
    assert (requester, provider, item, outcome) == (B, A, "welfare", Outcome.NOT_ALLOWED)
    with net.client(A) as a:
        assert a.records() == []


def test_provider_down_then_retry_with_the_same_key(net: Net) -> None:
    _, code_b = _seed(net)
    port = net.servers[A].port
    net.servers[A].stop()
    fields = {
        "code": code_b,
        "affair": AFFAIR,
        "item": "local_tax",
        "provider_agency": A,
        "idempotency_key": "down-0001",
    }
    with net.client(B) as b:
        with pytest.raises(OpenMynaError) as down:
            b.request(**fields)
        assert _problem(down) == ("PROVIDER_UNAVAILABLE", 503)
        assert down.value.context["idempotency_key"] == "down-0001"
        # Without a key of its own, the caller learns the one to retry with.
        unkeyed = {**fields, "idempotency_key": None}
        with pytest.raises(OpenMynaError) as down_too:
            b.request(**unkeyed)
        assert _problem(down_too) == ("PROVIDER_UNAVAILABLE", 503)
        given = down_too.value.context["idempotency_key"]
        assert b.records() == []
        assert net.hub_outcomes(net.numbers[0]) == []
        assert net.hub.state.open_count() == 2
        net.start_node(A, port)  # the provider is back, at the same address
        got = b.request(**fields)
        assert got["outcome"] == "provided"
        assert got["exchange_id"] == exchange_id_of(exchange_ref(B, "down-0001"))
        assert b.request(**{**unkeyed, "idempotency_key": given})["outcome"] == "provided"
        again = b.request(**fields)  # the exchange is done: the same outcome, no new record
        assert again["outcome"] == "provided"
        at_b = b.records()
    with net.client(A) as a:
        at_a = a.records()
    exchange_ids = [exchange_id_of(exchange_ref(B, k)) for k in ("down-0001", given)]
    assert [r["exchange_id"] for r in at_b] == exchange_ids
    assert [r["exchange_id"] for r in at_a] == exchange_ids
    assert [x for *_, x in net.hub_outcomes(net.numbers[0])] == exchange_ids
    assert net.hub.state.open_count() == 0


def test_provider_moved_to_another_port(net: Net) -> None:
    _, code_b = _seed(net)
    net.servers[A].stop()
    net.start_node(A)  # a new port, registered again
    with net.client(B) as b:
        got = b.request(code=code_b, affair=AFFAIR, item="local_tax", provider_agency=A)
    assert got["outcome"] == "provided"


def test_helpers() -> None:
    assert check_node_url("https://127.0.0.1:8441/") == "https://127.0.0.1:8441"
    for bad in ("http://h:1", "https://h", "https://h:1/x", "https://u@h:1", "https://h:99999"):
        with pytest.raises(OpenMynaError):
            check_node_url(bad)
    assert token_signer("not a token") is None
    err = error_from_problem(503, {"title": "PROVIDER_UNAVAILABLE", "detail": "down", "p": "x"})
    assert (err.code, err.http_status, err.context) == ("PROVIDER_UNAVAILABLE", 503, {"p": "x"})
    odd = error_from_problem(418, {"title": "NO_SUCH_CODE"})
    assert (odd.code, odd.context["remote_code"]) == ("REMOTE_ERROR", "NO_SUCH_CODE")
    assert error_from_problem(500, "oops").code == "REMOTE_ERROR"


def _pem(ca: NetworkCA) -> str:
    from cryptography.hazmat.primitives import serialization

    return ca.ca_certificate().public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_records_commands(net: Net) -> None:
    from typer.testing import CliRunner

    from openmyna.cli import app

    _, code_b = _seed(net)
    with net.client(B) as b:
        b.request(code=code_b, affair=AFFAIR, item="local_tax", provider_agency=A)
    env = {
        "OPENMYNA_DATA_DIR": str(net.settings.data_dir),
        "OPENMYNA_DATABASE_URL": net.settings.database_url or "",
        "OPENMYNA_SCHEMA_PREFIX": net.settings.schema_prefix,
    }
    if net.settings.database_url is None:
        del env["OPENMYNA_DATABASE_URL"]
    runner = CliRunner()
    verified = runner.invoke(app, ["network", "records", "verify"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "records:          1" in verified.output
    assert "chain:            ok" in verified.output
    person = runner.invoke(
        app, ["network", "records", "person"], input=f"{net.numbers[0]}\n", env=env
    )
    assert person.exit_code == 0, person.output
    assert f"{B:<12} -> {A:<12}" in person.output
    assert "provided" in person.output
    assert "1 exchange(s)" in person.output
    assert net.numbers[0] not in person.output  # asked for hidden, never printed
    nobody = runner.invoke(
        app, ["network", "records", "person", "--number", net.numbers[1]], env=env
    )
    assert nobody.exit_code == 0, nobody.output
    assert "0 exchange(s)" in nobody.output
    # The oversight body's queries, and their log.
    audit = runner.invoke(
        app,
        ["network", "oversight", "query", "--auditor", "ppc-audit-1", "--agency", A],
        env=env,
    )
    assert audit.exit_code == 0, audit.output
    assert "local_tax" in audit.output
    assert "1 record(s)" in audit.output
    none = runner.invoke(
        app,
        ["network", "oversight", "query", "--auditor", "ppc-audit-1", "--since", "2099-01-01"],
        env=env,
    )
    assert "0 record(s)" in none.output
    bad = runner.invoke(
        app, ["network", "oversight", "query", "--auditor", "x", "--since", "soon"], env=env
    )
    assert bad.exit_code != 0
    logged = runner.invoke(app, ["network", "oversight", "log"], env=env)
    assert logged.exit_code == 0, logged.output
    assert logged.output.count("ppc-audit-1") == 2  # both queries; the bad one never ran
    assert '"agency": "lg-102016"' in logged.output


def test_the_hub_talks_only_to_the_providers_own_node(net: Net) -> None:
    _, code_b = _seed(net)
    # A's registration is overwritten with B's node address: the hub sees B's certificate there.
    net.hub.register_node(A, net.servers[B].url)  # (before any delivery: nothing cached)
    with net.client(B) as b, pytest.raises(OpenMynaError) as wrong:
        b.request(
            code=code_b,
            affair=AFFAIR,
            item="local_tax",
            provider_agency=A,
            idempotency_key="wrong-node-1",
        )
    assert _problem(wrong) == ("PROVIDER_ERROR", 502)
    assert wrong.value.context["reason"] == "UNEXPECTED_PEER"
    with net.client(A) as a:
        assert a.records() == []
