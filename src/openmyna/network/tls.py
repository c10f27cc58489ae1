"""Mutual TLS between the hub and the agency nodes, with certificates of the network CA.

Both ends present a node certificate (``NetworkCA.node``) and accept only a peer whose
certificate chains to the network CA and is not revoked. TLS 1.2 at least. The handshake
checks the CRL as it was when the context was made; ``peer_agency`` checks the revocation
file as it is now, and names the caller (the agency id in the certificate's CN).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import uvicorn
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from openmyna.network.errors import NoPeerCertificate, RevokedPeer, UnexpectedPeer, UntrustedPeer
from openmyna.network.netca import NodeIdentity
from openmyna.server import BoundedH11Protocol

if TYPE_CHECKING:
    import httpx2


class RevocationCheck(Protocol):
    """What ``peer_agency`` needs to know about revocations (``NetworkCA`` is one)."""

    def is_revoked(self, serial_number: int) -> bool:
        """Whether the certificate with that serial number is revoked."""
        ...


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _base_context(
    purpose: int,
    identity: NodeIdentity,
    ca_cert: x509.Certificate,
    crl: str | os.PathLike[str] | None,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=_pem(ca_cert))
    if crl is not None:
        ctx.load_verify_locations(cafile=crl)  # OpenSSL reads CRLs from a file only
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    ctx.load_cert_chain(identity.cert_path, identity.key_path, password=identity.key_password)
    return ctx


def server_context(
    identity: NodeIdentity,
    ca_cert: x509.Certificate,
    crl: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A server context that requires a client certificate from the network CA (and CRL)."""
    return _base_context(ssl.PROTOCOL_TLS_SERVER, identity, ca_cert, crl)


def client_context(
    identity: NodeIdentity,
    ca_cert: x509.Certificate,
    crl: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A client context: presents the node certificate, trusts only the network CA."""
    ctx = _base_context(ssl.PROTOCOL_TLS_CLIENT, identity, ca_cert, crl)
    ctx.check_hostname = True
    return ctx


def _peer_der(peer: object) -> bytes | None:
    if isinstance(peer, x509.Certificate):
        return peer.public_bytes(serialization.Encoding.DER)
    if isinstance(peer, bytes):
        return peer
    if isinstance(peer, ssl.SSLObject | ssl.SSLSocket):
        return peer.getpeercert(binary_form=True)
    raise TypeError("peer must be an SSL object, an SSL socket, a certificate or DER bytes")


@functools.lru_cache(maxsize=1024)
def _node_certificate(der: bytes, ca_cert: x509.Certificate) -> tuple[int, str]:
    """(serial, agency id) of a node certificate issued by ``ca_cert``; raise if it is not one.

    Remembered per certificate: every request on every connection presents the same few
    certificates. Revocation is not part of it (it is checked on every call).
    """
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise UntrustedPeer("the peer certificate is not from the network CA") from None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except x509.ExtensionNotFound:
        raise UntrustedPeer("the peer certificate is not a node certificate") from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku or len(names) != 1:
        raise UntrustedPeer("the peer certificate is not a node certificate")
    return cert.serial_number, str(names[0].value)


def peer_agency(
    peer: ssl.SSLObject | ssl.SSLSocket | x509.Certificate | bytes,
    ca_cert: x509.Certificate,
    revocations: RevocationCheck,
    expected: str | None = None,
) -> str:
    """The agency id of a TLS peer, after checking it is a live node of the network CA."""
    der = _peer_der(peer)
    if not der:
        raise NoPeerCertificate("the peer presented no certificate")
    serial, agency = _node_certificate(der, ca_cert)
    if revocations.is_revoked(serial):
        raise RevokedPeer("the peer certificate is revoked", serial=f"{serial:x}")
    if expected is not None and agency != expected:
        raise UnexpectedPeer("the peer is not the expected agency", peer=agency, expected=expected)
    return agency


_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class MutualTlsH11Protocol(BoundedH11Protocol):
    """uvicorn's HTTP/1.1 protocol, adding the ASGI TLS extension (the client certificate).

    It holds clients to the installation's read deadlines (``openmyna.server``) like every
    openmyna server.

    uvicorn does not pass the peer certificate to the application; with this protocol every
    scope carries ``scope["extensions"]["tls"]`` with ``client_cert_chain`` (PEM, leaf
    first), ``client_cert_name`` and ``tls_version``, for ``scope_agency``.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Remember the connection's client certificate for every request on it."""
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        chain: list[str] = []
        name: str | None = None
        if der:
            cert = x509.load_der_x509_certificate(der)
            chain.append(_pem(cert))
            name = cert.subject.rfc4514_string()
        info = {
            "server_cert": None,
            "client_cert_chain": chain,
            "client_cert_name": name,
            "client_cert_error": None,
            "tls_version": _TLS_VERSIONS.get(ssl_object.version()) if ssl_object else None,
            "cipher_suite": None,
        }
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})["tls"] = info
            await inner(scope, receive, send)

        self.app = app


def scope_agency(
    scope: Mapping[str, Any],
    ca_cert: x509.Certificate,
    revocations: RevocationCheck,
    expected: str | None = None,
) -> str:
    """The calling agency of an ASGI request served with ``MutualTlsH11Protocol``."""
    tls_info = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls_info.get("client_cert_chain") or []
    if not chain:
        raise NoPeerCertificate("the peer presented no certificate")
    return peer_agency(_pem_der(str(chain[0])), ca_cert, revocations, expected)


@functools.lru_cache(maxsize=1024)
def _pem_der(pem: str) -> bytes:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise UntrustedPeer("the peer certificate is malformed") from None
    return cert.public_bytes(serialization.Encoding.DER)


def uvicorn_ssl_options(
    identity: NodeIdentity,
    ca_path: str,
    ca_cert: x509.Certificate,
    crl: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``/``uvicorn.run``: mutual TLS with the network CA.

    uvicorn takes files: the node's encrypted key file and its password, its certificate and
    the CA file. ``http`` is ``MutualTlsH11Protocol`` (the app learns the caller through
    ``scope_agency``). ``ssl_context_factory`` replaces uvicorn's context with ``server_context``
    (TLS 1.2+, client certificate required, the CRL); no ALPN is offered, so HTTP/1.1.
    """

    def factory(_config: object, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return server_context(identity, ca_cert, crl)

    options: dict[str, Any] = {
        "ssl_keyfile": str(identity.key_path),
        "ssl_certfile": str(identity.cert_path),
        "ssl_keyfile_password": identity.key_password,
        "ssl_ca_certs": ca_path,
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "http": MutualTlsH11Protocol,
    }
    if "ssl_context_factory" in inspect.signature(uvicorn.Config).parameters:
        options["ssl_context_factory"] = factory
    # else (uvicorn before ssl_context_factory): uvicorn's own context still requires a client
    # certificate from the CA; revocation is then checked by ``scope_agency`` alone.
    return options


def client(
    identity: NodeIdentity,
    ca_cert: x509.Certificate,
    crl: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> httpx2.Client:
    """An httpx2 client that presents the node certificate and trusts only the network CA."""
    import httpx2  # a dev dependency so far: imported only when a client is made

    return httpx2.Client(verify=client_context(identity, ca_cert, crl), **kwargs)
