"""Mutual TLS on real sockets (127.0.0.1): who is accepted, who is refused, and who called."""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.network import tls
from openmyna.network.errors import (
    NoPeerCertificate,
    PeerRefused,
    RevokedPeer,
    UnexpectedPeer,
    UntrustedPeer,
)
from openmyna.network.netca import NetworkCA, NodeIdentity


@pytest.fixture
def ca(tmp_path: Path, clock: FixedClock) -> NetworkCA:
    return NetworkCA.open(Settings(data_dir=tmp_path / "net"), clock)


@pytest.fixture
def other_ca(tmp_path: Path, clock: FixedClock) -> NetworkCA:
    """A second network CA: same names, different key."""
    return NetworkCA.open(Settings(data_dir=tmp_path / "other"), clock)


class EchoServer:
    """An mTLS server that answers each connection with the caller's agency id."""

    def __init__(self, ctx: ssl.SSLContext, ca: NetworkCA) -> None:
        self.ctx = ctx
        self.ca = ca
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.results: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls_sock:
                    try:
                        agency = tls.peer_agency(tls_sock, self.ca.ca_certificate(), self.ca)
                    except PeerRefused as exc:
                        self.results.put(exc.code)
                        tls_sock.sendall(exc.code.encode())
                        continue
                    self.results.put(f"ok:{agency}")
                    tls_sock.sendall(agency.encode())
            except (ssl.SSLError, OSError):
                self.results.put("handshake_failed")
                conn.close()

    def outcome(self) -> str:
        return self.results.get(timeout=5)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def echo_server(ca: NetworkCA, crl: bool = True) -> Iterator[EchoServer]:
    server = EchoServer(
        tls.server_context(ca.node("hub"), ca.ca_certificate(), ca.crl_path if crl else None), ca
    )
    try:
        yield server
    finally:
        server.close()


def _call(port: int, ctx: ssl.SSLContext, host: str = "127.0.0.1") -> bytes:
    """Connect, handshake and read the answer; b"" or an error when the server refuses."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as sock,
    ):
        return sock.recv(100)


def _refused(port: int, ctx: ssl.SSLContext) -> None:
    with contextlib.suppress(ssl.SSLError, ConnectionResetError, BrokenPipeError):
        assert _call(port, ctx) == b""


def _plain_client(ca: NetworkCA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(
        cadata=ca.ca_certificate().public_bytes(serialization.Encoding.PEM).decode()
    )
    return ctx


def _self_signed(tmp_path: Path, agency: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agency)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "self.pem", tmp_path / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _client(ca: NetworkCA, node: NodeIdentity) -> ssl.SSLContext:
    return tls.client_context(node, ca.ca_certificate(), ca.crl_path)


def test_valid_node_is_accepted_and_named(ca: NetworkCA) -> None:
    with echo_server(ca) as server:
        for agency in ("lg-102016", "nenkin"):
            assert _call(server.port, _client(ca, ca.node(agency))) == agency.encode()
            assert server.outcome() == f"ok:{agency}"
        assert _call(server.port, _client(ca, ca.node("nenkin")), host="localhost") == b"nenkin"
        assert server.outcome() == "ok:nenkin"


def test_client_without_certificate_is_refused(ca: NetworkCA) -> None:
    with echo_server(ca) as server:
        _refused(server.port, _plain_client(ca))
        assert server.outcome() == "handshake_failed"


def test_self_signed_client_is_refused(ca: NetworkCA, tmp_path: Path) -> None:
    ctx = _plain_client(ca)
    ctx.load_cert_chain(*_self_signed(tmp_path, "lg-102016"))
    with echo_server(ca) as server:
        _refused(server.port, ctx)
        assert server.outcome() == "handshake_failed"


def test_client_of_another_ca_is_refused(ca: NetworkCA, other_ca: NetworkCA) -> None:
    intruder = other_ca.node("lg-102016")
    ctx = _plain_client(ca)
    ctx.load_cert_chain(intruder.cert_path, intruder.key_path, intruder.key_password)
    with echo_server(ca) as server:
        _refused(server.port, ctx)
        assert server.outcome() == "handshake_failed"
    with pytest.raises(UntrustedPeer):
        tls.peer_agency(intruder.certificate, ca.ca_certificate(), ca)


def test_revoked_client_is_refused(ca: NetworkCA) -> None:
    node = ca.node("lg-102016")
    client_ctx = _client(ca, node)
    # a server started before the revocation: the handshake passes, peer_agency refuses
    with echo_server(ca) as server:
        assert _call(server.port, client_ctx) == b"lg-102016"
        assert server.outcome() == "ok:lg-102016"
        ca.revoke("lg-102016")
        assert _call(server.port, client_ctx) == b"REVOKED_PEER"
        assert server.outcome() == "REVOKED_PEER"
    # a server started after it refuses the handshake itself (the CRL)
    with echo_server(ca) as server:
        _refused(server.port, client_ctx)
        assert server.outcome() == "handshake_failed"
        assert _call(server.port, _client(ca, ca.node("lg-102016"))) == b"lg-102016"
        assert server.outcome() == "ok:lg-102016"


def test_client_refuses_a_server_of_another_ca(ca: NetworkCA, other_ca: NetworkCA) -> None:
    with echo_server(other_ca) as server, pytest.raises(ssl.SSLCertVerificationError):
        _call(server.port, _client(ca, ca.node("nenkin")))


def test_client_checks_the_host_name(ca: NetworkCA) -> None:
    with echo_server(ca) as server, pytest.raises(ssl.SSLCertVerificationError):
        _call(server.port, _client(ca, ca.node("nenkin")), host="hub.example.jp")


def test_client_names_the_server(ca: NetworkCA) -> None:
    ctx = _client(ca, ca.node("nenkin"))
    cert = ca.ca_certificate()
    with (
        echo_server(ca) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        assert tls.peer_agency(sock, cert, ca, expected="hub") == "hub"
        with pytest.raises(UnexpectedPeer) as err:
            tls.peer_agency(sock, cert, ca, expected="nenkin")
        assert err.value.code == "UNEXPECTED_PEER"
        assert sock.recv(100) == b"nenkin"


def test_peer_agency_inputs(ca: NetworkCA) -> None:
    node = ca.node("jasso")
    der = node.certificate.public_bytes(serialization.Encoding.DER)
    assert tls.peer_agency(der, ca.ca_certificate(), ca) == "jasso"
    with pytest.raises(NoPeerCertificate):
        tls.peer_agency(b"", ca.ca_certificate(), ca)
    with pytest.raises(UntrustedPeer):
        tls.peer_agency(b"not a certificate", ca.ca_certificate(), ca)
    ca.revoke("jasso")
    with pytest.raises(RevokedPeer) as err:
        tls.peer_agency(node.certificate, ca.ca_certificate(), ca)
    assert err.value.http_status == 403


def test_minimum_tls_version(ca: NetworkCA) -> None:
    ctx = tls.server_context(ca.node("hub"), ca.ca_certificate())
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    client_ctx = _client(ca, ca.node("nenkin"))
    assert client_ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client_ctx.verify_mode == ssl.CERT_REQUIRED
    assert client_ctx.check_hostname


def test_uvicorn_and_httpx2(ca: NetworkCA) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        try:
            status, body = 200, tls.scope_agency(scope, ca.ca_certificate(), ca).encode()
        except PeerRefused as exc:
            status, body = exc.http_status, exc.code.encode()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    options = tls.uvicorn_ssl_options(
        ca.node("hub"), str(ca.ca_path), ca.ca_certificate(), ca.crl_path
    )
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", **options)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            url = f"https://127.0.0.1:{port}/"
            nenkin = ca.node("nenkin")
            with tls.client(nenkin, ca.ca_certificate(), ca.crl_path) as http:
                assert http.get(url).text == "nenkin"
                assert http.get(url).text == "nenkin"  # same connection, same caller
                ca.revoke("nenkin")  # the running server's CRL is older: the app refuses
                answer = http.get(url)
                assert (answer.status_code, answer.text) == (403, "REVOKED_PEER")
            with tls.client(ca.node("lg-102016"), ca.ca_certificate(), ca.crl_path) as http:
                assert http.get(url).text == "lg-102016"
            with (
                httpx2.Client(verify=_plain_client(ca)) as anonymous,
                pytest.raises(httpx2.HTTPError),
            ):
                anonymous.get(url)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
