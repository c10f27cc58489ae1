"""Mutual-TLS HTTP clients of the network, and errors across the wire.

``HttpDeliver`` is the hub's ``Deliver`` (hub → provider node), ``HubClient`` a node's client
of the hub, ``NodeClient`` an agency system's client of its own node. Every client is pooled
and checks that the server's certificate names the agency it expects, so a node never sends
a number or a token to something that is not the hub. Errors travel as RFC 9457
problem+json with the error's stable code and are rebuilt as the same class on arrival.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx2

from openmyna.errors import OpenMynaError, Unavailable
from openmyna.network import tls
from openmyna.network.errors import (
    HubUnavailable,
    NoPeerCertificate,
    PeerRefused,
    ProviderError,
    ProviderUnavailable,
    RemoteError,
    UnknownNode,
)
from openmyna.network.hub import Hub
from openmyna.network.netca import HUB_ID, NetworkCA, NodeIdentity

#: How long the hub trusts a provider URL it read from its database.
URL_TTL: Final = 2.0
#: The request extension naming the agency whose node certificate the server must show.
_AGENCY: Final = "openmyna_agency"


# --- errors across the wire ---------------------------------------------------------------


def _error_classes() -> dict[str, type[OpenMynaError]]:
    found: dict[str, type[OpenMynaError]] = {}
    todo: list[type[OpenMynaError]] = [OpenMynaError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


def with_context(exc: OpenMynaError, **extra: str) -> OpenMynaError:
    """A copy of an error (same class and code) with more context; the original is unchanged."""
    copy = type(exc).__new__(type(exc))
    OpenMynaError.__init__(copy, exc.message, **{**exc.context, **extra})
    return copy


def error_body(exc: OpenMynaError) -> dict[str, Any]:
    """An error as a problem object that also names its ``code`` (no personal data)."""
    return {"code": exc.code, **exc.problem()}


def error_from_problem(status: int, body: object) -> OpenMynaError:
    """Rebuild the error a peer reported as problem+json (same class, hence same code)."""
    if not isinstance(body, dict):
        return RemoteError("the peer answered with an error but no problem", status=status)
    code = body.get("code") or body.get("title")
    context = {
        k: v
        for k, v in body.items()
        if k not in ("type", "title", "status", "detail", "code") and isinstance(v, str | int)
    }
    cls = _error_classes().get(code) if isinstance(code, str) else None
    detail = body.get("detail")
    message = detail if isinstance(detail, str) else "the peer reported an error"
    if cls is None:
        return RemoteError(message, remote_code=str(code)[:64], status=status)
    exc = cls.__new__(cls)
    OpenMynaError.__init__(exc, message, **context)
    return exc


# --- HTTP clients (pooled, mutual TLS, the server's agency checked) -----------------------


class _ServerCheck:
    """An httpx2 response hook: the server's certificate must name the expected agency."""

    def __init__(self, ca: NetworkCA, expected: Callable[[httpx2.Request], str]) -> None:
        self._ca = ca
        self._ca_cert = ca.ca_certificate()
        self._expected = expected

    def __call__(self, response: httpx2.Response) -> None:
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        # httpcore2's sync streams hand out the low-level ``_ssl._SSLSocket``: take the DER.
        der = ssl_object.getpeercert(True) if ssl_object is not None else None
        if not der:
            raise NoPeerCertificate("the server presented no certificate")
        tls.peer_agency(der, self._ca_cert, self._ca, self._expected(response.request))


def _client(
    identity: NodeIdentity,
    ca: NetworkCA,
    check: _ServerCheck,
    *,
    timeout: float,
    max_connections: int,
    base_url: str = "",
) -> httpx2.Client:
    return tls.client(
        identity,
        ca.ca_certificate(),
        ca.crl_path,
        base_url=base_url,
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx2.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=10.0,
        ),
        trust_env=False,
        event_hooks={"response": [check]},
    )


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class HttpDeliver:
    """The hub's ``Deliver`` over HTTP: posts forwarded tokens to the provider's node.

    The provider's URL comes from the hub database (``Hub.node_url``), cached ``URL_TTL``
    seconds; the server must present that provider's node certificate. Connection refused,
    reset or timed out, and 5xx answers raise ``ProviderUnavailable``.
    """

    def __init__(
        self, hub: Hub, ca: NetworkCA, *, timeout: float = 10.0, max_connections: int = 64
    ) -> None:
        self._hub = hub
        self._urls: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        check = _ServerCheck(ca, lambda request: str(request.extensions.get(_AGENCY, "?")))
        self._http = _client(
            hub.identity, ca, check, timeout=timeout, max_connections=max_connections
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def _url(self, provider: str, *, fresh: bool = False) -> str:
        now = time.monotonic()
        with self._lock:
            cached = self._urls.get(provider)
        if cached is not None and not fresh and now - cached[1] < URL_TTL:
            return cached[0]
        url = self._hub.node_url(provider)
        with self._lock:
            self._urls[provider] = (url, now)
        return url

    def __call__(self, provider: str, tokens: list[str]) -> list[str | OpenMynaError]:
        """Deliver forwarded tokens to ``provider``: an answer token or its error for each."""
        try:
            url = self._url(provider)
        except UnknownNode:
            raise ProviderUnavailable(
                "the provider's node has not registered", provider=provider, reason=UnknownNode.code
            ) from None
        try:
            response = self._post(provider, url, tokens)
        except httpx2.TransportError:
            fresh = self._url(provider, fresh=True)  # the node may have moved
            if fresh == url:
                raise ProviderUnavailable(
                    "the provider's node does not answer", provider=provider
                ) from None
            try:
                response = self._post(provider, fresh, tokens)
            except httpx2.TransportError:
                raise ProviderUnavailable(
                    "the provider's node does not answer", provider=provider
                ) from None
        if response.status_code >= 500:
            raise ProviderUnavailable(
                "the provider's node failed", provider=provider, status=response.status_code
            )
        body = _json(response)
        if response.status_code != 200:
            remote = error_from_problem(response.status_code, body)
            raise ProviderError(
                "the provider's node refused the hub's call", provider=provider, reason=remote.code
            )
        answers = body.get("answers") if isinstance(body, dict) else None
        if not isinstance(answers, list) or len(answers) != len(tokens):
            raise ProviderError("the provider's node gave no answer per token", provider=provider)
        out: list[str | OpenMynaError] = []
        for a in answers:
            if isinstance(a, dict) and isinstance(a.get("answer"), str):
                out.append(a["answer"])
            else:
                err = a.get("error") if isinstance(a, dict) else None
                out.append(error_from_problem(502, err))
        return out

    def _post(self, provider: str, url: str, tokens: list[str]) -> httpx2.Response:
        try:
            return self._http.post(
                f"{url}/v1/answer", json={"tokens": tokens}, extensions={_AGENCY: provider}
            )
        except PeerRefused as exc:  # another node answers at the provider's address
            raise ProviderError(
                "the server at the provider's address is not its node",
                provider=provider,
                reason=exc.code,
            ) from None


class HubClient:
    """A node's pooled mutual-TLS client of the hub (the server must be the hub)."""

    def __init__(
        self,
        identity: NodeIdentity,
        ca: NetworkCA,
        hub_url: str,
        *,
        timeout: float = 30.0,
        max_connections: int = 32,
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        check = _ServerCheck(ca, lambda _request: HUB_ID)
        self._http = _client(
            identity,
            ca,
            check,
            timeout=timeout,
            max_connections=max_connections,
            base_url=self.hub_url,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx2.TransportError:
            raise HubUnavailable("the hub does not answer") from None
        data = _json(response)
        if response.status_code == 200:
            return data
        if response.status_code >= 500 and not isinstance(data, dict):
            raise HubUnavailable("the hub failed", status=response.status_code)
        raise error_from_problem(response.status_code, data)

    def exchange(self, token: str) -> str:
        """Run one request token through the hub: the signed result token."""
        data = self._call("POST", "/v1/exchanges", {"token": token})
        if not isinstance(data, dict) or not isinstance(data.get("result"), str):
            raise RemoteError("the hub gave no result")
        return str(data["result"])

    def exchange_many(self, tokens: Sequence[str]) -> list[str | OpenMynaError]:
        """Run many request tokens through the hub: a result token or an error for each."""
        data = self._call("POST", "/v1/exchanges/batch", {"tokens": list(tokens)})
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(tokens):
            raise RemoteError("the hub gave no result per token")
        out: list[str | OpenMynaError] = []
        for r in results:
            if isinstance(r, dict) and isinstance(r.get("result"), str):
                out.append(r["result"])
            else:
                err = r.get("error") if isinstance(r, dict) else None
                status = err.get("status") if isinstance(err, dict) else None
                out.append(error_from_problem(status if isinstance(status, int) else 502, err))
        return out

    def issue_code(self, individual_number: str) -> str:
        """This agency's code for the person with that number (issued on first request)."""
        data = self._call("POST", "/v1/codes", {"individual_number": individual_number})
        if not isinstance(data, dict) or not isinstance(data.get("code"), str):
            raise RemoteError("the hub gave no code")
        return str(data["code"])

    def register(self, url: str) -> None:
        """Tell the hub the URL at which it reaches this node."""
        self._call("PUT", "/v1/nodes/self", {"url": url})


@dataclasses.dataclass
class NodeClient:
    """An agency system's client of its own node (it presents the agency's node certificate)."""

    http: httpx2.Client

    @classmethod
    def connect(
        cls, identity: NodeIdentity, ca: NetworkCA, node_url: str, *, timeout: float = 30.0
    ) -> NodeClient:
        """A pooled client of the node at ``node_url`` (the server must be that agency)."""
        check = _ServerCheck(ca, lambda _request: identity.agency_id)
        return cls(
            _client(
                identity,
                ca,
                check,
                timeout=timeout,
                max_connections=32,
                base_url=node_url.rstrip("/"),
            )
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One call; the JSON answer, or raise the node's (or hub's) error."""
        try:
            response = self.http.request(method, path, json=body)
        except httpx2.TransportError:
            raise Unavailable("the node does not answer") from None
        data = _json(response)
        if response.status_code != 200:
            raise error_from_problem(response.status_code, data)
        return data

    def request(self, **fields: Any) -> dict[str, Any]:
        """``POST /v1/requests``: ``{"outcome", "item"}``."""
        return dict(self.call("POST", "/v1/requests", fields))

    def request_many(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``POST /v1/requests/batch``: an outcome or ``{"error"}`` per request."""
        return list(
            self.call("POST", "/v1/requests/batch", {"requests": list(requests)})["results"]
        )

    def issue_code(self, individual_number: str) -> str:
        """``POST /v1/codes``: this agency's code for the person."""
        return str(self.call("POST", "/v1/codes", {"individual_number": individual_number})["code"])

    def store_item(self, code: str, item: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``PUT /v1/items/{code}/{item}``."""
        return dict(self.call("PUT", f"/v1/items/{code}/{item}", payload))

    def records(self) -> list[dict[str, Any]]:
        """``GET /v1/records``."""
        return list(self.call("GET", "/v1/records")["records"])
