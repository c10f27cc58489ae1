"""The agency-facing notice API over real mutual TLS (uvicorn in a thread, httpx2 and ssl).

Agencies present their node certificate of the network CA; a client without one, or with
one of another CA, is refused in the handshake; the hub and the portal itself may not post.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from notice_helpers import MAEBASHI_AGENCY, agency_code
from portal_helpers import authenticate, holder, login

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.network import tls
from openmyna.network.netca import HUB_ID, NetworkCA, NodeIdentity
from openmyna.platform import Platform
from openmyna.portal.notices.api import MAX_BODY_BYTES, make_notices_server
from openmyna.portal.notices.tables import notices as notices_table


class Served:
    """The notice API of a platform, served over mutual TLS on a free port in a thread."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.ca = platform.network.ca
        sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        self.url = f"https://127.0.0.1:{self.port}"
        self.server = make_notices_server(platform.portal.notices, self.ca, port=self.port)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def client(self, identity: NodeIdentity) -> httpx2.Client:
        """A client presenting ``identity``'s certificate, trusting the network CA."""
        return tls.client(identity, self.ca.ca_certificate(), trust_env=False, timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def api(platform: Platform) -> Iterator[Served]:
    served = Served(platform)
    try:
        yield served
    finally:
        served.stop()


def _notice(code: str, key: str = "api-notice-0001", **extra: object) -> dict[str, object]:
    return {
        "code": code,
        "title": "児童手当の認定通知",
        "body": "児童手当の認定をしました。\n支給は6月からです。",
        "category": "childcare",
        "link": "/applications/app-000123",
        "idempotency_key": key,
        **extra,
    }


def _ask(sock: ssl.SSLSocket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock.recv(100)


def _stored(platform: Platform) -> int:
    with platform.portal.notices.store.transaction() as s:
        return len(s.execute(notices_table.select()).all())


def test_an_agency_posts_over_mutual_tls_and_the_person_reads_it(
    api: Served, platform: Platform, client: TestClient
) -> None:
    person = holder(platform)
    code = agency_code(platform, person.resident)
    with api.client(api.ca.node(MAEBASHI_AGENCY)) as http:
        first = http.post(f"{api.url}/v1/notices", json=_notice(code))
        again = http.post(f"{api.url}/v1/notices", json=_notice(code))
        conflict = http.post(f"{api.url}/v1/notices", json=_notice(code, title="別の件名"))
        unknown = http.post(f"{api.url}/v1/notices", json=_notice("a" * 26, key="api-notice-0002"))
        health = http.get(f"{api.url}/healthz")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True
    assert body["posted_at"] == "2026-04-01T00:00:00Z"
    assert again.status_code == 200
    assert again.json() == {**body, "created": False}
    assert conflict.status_code == 409
    assert conflict.json()["title"] == "IDEMPOTENCY_CONFLICT"
    assert unknown.status_code == 404
    assert unknown.json()["title"] == "UNKNOWN_CODE"
    assert health.json() == {"status": "ok", "role": "notices"}
    assert _stored(platform) == 1
    account = login(platform, client, person.card)
    [seen] = platform.portal.notices.page(account.account_id).notices
    assert seen.notice_id == body["notice_id"]
    assert seen.sender == MAEBASHI_AGENCY
    assert seen.sender_name == "群馬県前橋市"
    page = client.get(f"/notices/{seen.notice_id}")
    assert "児童手当の認定通知" in page.text
    assert 'href="/applications/app-000123"' in page.text


def test_a_client_without_a_certificate_is_refused_in_the_handshake(
    api: Served, platform: Platform
) -> None:
    person = holder(platform)
    trusting = ssl.create_default_context(
        cadata=api.ca.ca_certificate().public_bytes(serialization.Encoding.PEM).decode("ascii")
    )
    code = agency_code(platform, person.resident)
    with (
        httpx2.Client(verify=trusting, trust_env=False, timeout=10) as http,
        pytest.raises(httpx2.TransportError),
    ):
        http.post(f"{api.url}/v1/notices", json=_notice(code))
    # Python's ssl alone: the server ends the connection (an alert, or closing it) before
    # any HTTP; an end without TLS's close_notify is an error here, not an empty answer.
    with (
        socket.create_connection(("127.0.0.1", api.port), timeout=10) as raw,
        trusting.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False) as s,
        pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)),
    ):
        _ask(s)
    assert _stored(platform) == 0


def test_a_certificate_of_another_ca_is_refused_in_the_handshake(
    api: Served, platform: Platform, tmp_path: Path, clock: FixedClock
) -> None:
    person = holder(platform)
    foreign = NetworkCA.open(Settings(data_dir=tmp_path / "foreign"), clock)
    # Same agency name, another CA; the client still trusts the real network CA.
    code = agency_code(platform, person.resident)
    with (
        api.client(foreign.node(MAEBASHI_AGENCY)) as http,
        pytest.raises(httpx2.TransportError),
    ):
        http.post(f"{api.url}/v1/notices", json=_notice(code))
    assert _stored(platform) == 0


def test_the_hub_the_portal_and_a_revoked_agency_may_not_post(
    api: Served, platform: Platform
) -> None:
    person = holder(platform)
    code = agency_code(platform, person.resident)
    for who in (HUB_ID, "myna-portal"):
        with api.client(api.ca.node(who)) as http:
            refused = http.post(f"{api.url}/v1/notices", json=_notice(code))
        assert refused.status_code == 403, who
        assert refused.json()["title"] == "NOTICE_SENDER_REFUSED"
    revoked = api.ca.node(MAEBASHI_AGENCY)
    api.ca.revoke(MAEBASHI_AGENCY)
    with api.client(revoked) as http:
        try:
            answer = http.post(f"{api.url}/v1/notices", json=_notice(code))
        except httpx2.TransportError:
            pass  # refused by the CRL in the handshake (a server started after it)
        else:  # the server's CRL predates it: the app refuses the revoked certificate
            assert answer.status_code == 403
            assert answer.json()["title"] == "REVOKED_PEER"
    assert _stored(platform) == 0


def test_bad_and_oversized_bodies_are_refused_without_echoing_them(
    api: Served, platform: Platform
) -> None:
    person = holder(platform)
    code = agency_code(platform, person.resident)
    number = person.resident.individual_number
    with api.client(api.ca.node(MAEBASHI_AGENCY)) as http:
        url = f"{api.url}/v1/notices"
        with_number = http.post(url, json=_notice(code, individual_number=number))
        too_long = http.post(url, json=_notice(code, title="件" * 101))
        bad_link = http.post(url, json=_notice(code, link="https://evil.example/"))
        malformed = http.post(
            url, content=b"{not json", headers={"content-type": "application/json"}
        )
        huge = http.post(
            url,
            content=json.dumps(_notice(code, body="x" * MAX_BODY_BYTES)).encode(),
            headers={"content-type": "application/json"},
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(MAX_BODY_BYTES // 1024 + 2):
                yield b" " * 1024

        streamed = http.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert with_number.status_code == 400
    assert number not in with_number.text
    assert too_long.status_code == 400
    assert too_long.json()["title"] == "INVALID_NOTICE"
    assert "件件件" not in too_long.text
    assert bad_link.status_code == 400
    assert "evil.example" not in bad_link.text
    assert malformed.status_code == 400
    assert huge.status_code == 413
    assert huge.json()["title"] == "REQUEST_TOO_LARGE"
    assert streamed.status_code == 413
    assert _stored(platform) == 0


def test_the_api_as_its_own_process(platform: Platform, settings: Settings, tmp_path: Path) -> None:
    """``openmyna portal notices-api``: its own process on the data dir, the hub's codes."""
    person = holder(platform)
    code = agency_code(platform, person.resident)
    ca = platform.network.ca
    ca.node("myna-portal")  # the identities exist before the process reads them
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        "OPENMYNA_DATA_DIR": str(settings.data_dir),
        "OPENMYNA_SCHEMA_PREFIX": settings.schema_prefix,
    }
    env.pop("OPENMYNA_DATABASE_URL", None)
    if settings.database_url is not None:
        env["OPENMYNA_DATABASE_URL"] = settings.database_url
    command = ["portal", "notices-api", "--port", str(port)]
    log = tmp_path / "notices-api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from openmyna.cli import main; main()", *command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        with tls.client(ca.node(MAEBASHI_AGENCY), ca.ca_certificate(), trust_env=False) as http:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if http.get(f"https://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert time.monotonic() < deadline, "the notice API did not start"
                time.sleep(0.2)
            answer = http.post(f"https://127.0.0.1:{port}/v1/notices", json=_notice(code))
        assert answer.status_code == 201, answer.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()
    assert "https://127.0.0.1" in log.read_text()
    account = platform.portal.accounts.for_login(authenticate(platform, person.card))
    [seen] = platform.portal.notices.page(account.account_id).notices
    assert seen.notice_id == answer.json()["notice_id"]
