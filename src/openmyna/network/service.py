"""The hub and the agency nodes as HTTP processes over mutual TLS (FastAPI + uvicorn).

Every connection is mutual TLS with node certificates of the network CA; each side learns
the other's agency id from its certificate (``tls.scope_agency`` on the server,
``tls.peer_agency`` on the client's response), never from the request body.

The hub (``create_hub_app``): ``POST /v1/exchanges`` and ``/v1/exchanges/batch`` run
requests through ``Hub.exchange``/``exchange_many`` (the sender of every token must be the
TLS peer), ``POST /v1/codes`` issues the caller's agency-specific code (the only request that
carries an individual number), ``PUT /v1/nodes/self`` registers the caller's URL in the hub
database. It reaches the provider nodes with ``HttpDeliver``.

An agency node (``create_node_app``): ``POST /v1/answer`` for the hub only, and its agency's
own systems' API (the caller presents this agency's own node certificate): ``/v1/requests``
(and ``/batch``), ``/v1/codes``, ``PUT /v1/items/{code}/{item}``, ``GET /v1/records``.
Errors are RFC 9457 problem+json with the error's stable code; a hub error reaches the
agency's systems with the hub's code (``PROVIDER_UNAVAILABLE`` as 503: retry with the same
idempotency key).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import Body, FastAPI, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from openmyna import problems
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network import messages as m
from openmyna.network import tls
from openmyna.network.batching import Batcher
from openmyna.network.clients import HttpDeliver, HubClient, error_body, with_context
from openmyna.network.errors import (
    HubUnavailable,
    IdempotencyConflict,
    InvalidNodeUrl,
    SenderNotPeer,
)
from openmyna.network.exchange import Deliver, RequestSpec, exchange_id_of, exchange_ref
from openmyna.network.hub import Hub
from openmyna.network.item_layout import ItemLayout
from openmyna.network.netca import HUB_ID, NetworkCA
from openmyna.network.node import AgencyNode
from openmyna.numbers import mask_individual_number

log = logging.getLogger(__name__)

#: Most tokens in one batch request (the hub signs and records a batch in one go).
MAX_BATCH: Final = 1000
CODE_PATTERN: Final = r"^[a-z2-7]{26}$"
NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"


# --- request and response bodies ----------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenIn(_Body):
    """One signed token."""

    token: str = Field(max_length=64_000)


class TokensIn(_Body):
    """Signed tokens, answered in the same order."""

    tokens: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class NumberIn(_Body):
    """An individual number, presented once to get the agency's code."""

    individual_number: str = Field(max_length=32)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # pydantic builds repr() and str() from these: the number shows masked.
        yield "individual_number", mask_individual_number(self.individual_number)


class UrlIn(_Body):
    """The URL at which the hub reaches a node."""

    url: str = Field(max_length=300)


class RequestIn(_Body):
    """An agency system's request for an information item of a person (by the agency's code)."""

    code: m.Code
    affair: m.Name
    item: m.Name
    provider_agency: m.AgencyId | None = None
    provider_kind: m.Name | None = None
    #: Retry with the same key after an error such as ``PROVIDER_UNAVAILABLE``.
    idempotency_key: m.IdempotencyKey | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _lower_code(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_provider(self) -> RequestIn:
        if (self.provider_kind is None) == (self.provider_agency is None):
            raise ValueError("give exactly one of provider_agency and provider_kind")
        return self

    def spec(self) -> RequestSpec:
        """As the node's ``RequestSpec``."""
        return RequestSpec(
            code=self.code,
            affair=self.affair,
            item=self.item,
            provider_kind=self.provider_kind,
            provider_agency=self.provider_agency,
            idempotency_key=self.idempotency_key,
        )


class RequestsIn(_Body):
    """Many requests, answered in the same order."""

    requests: list[RequestIn] = Field(min_length=1, max_length=MAX_BATCH)


def _per_item(values: Sequence[str | OpenMynaError], key: str) -> list[dict[str, Any]]:
    return [{"error": error_body(v)} if isinstance(v, OpenMynaError) else {key: v} for v in values]


def check_node_url(url: str) -> str:
    """``url`` if it is ``https://host:port`` (an optional ``/`` path only), else raise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidNodeUrl("the node URL is malformed") from None
    if (
        parts.scheme != "https"
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise InvalidNodeUrl("a node URL is https://host:port")
    return f"https://{parts.netloc}"


def token_signer(token: str) -> str | None:
    """The ``kid`` a token's JWS header names (plain or batch token), unverified; None if none."""
    head = token.split("~", 1)[0].split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _check_sender(token: str, peer: str) -> None:
    if token_signer(token) != peer:
        raise SenderNotPeer("the token is not signed by the agency presenting it", peer=peer)


# --- the hub ------------------------------------------------------------------------------


def create_hub_app(hub: Hub, ca: NetworkCA, *, deliver: Deliver | None = None) -> FastAPI:
    """The hub's web app (the caller's agency from its client certificate)."""
    http_deliver = HttpDeliver(hub, ca) if deliver is None else None
    send = deliver if deliver is not None else http_deliver
    assert send is not None
    ca_cert = ca.ca_certificate()
    counts = {"exchanges": 0}
    count_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if http_deliver is not None:
                http_deliver.close()

    app = FastAPI(title="openmyna network hub", lifespan=lifespan, openapi_url=None)
    problems.install(app)

    def peer(request: Request) -> str:
        return tls.scope_agency(request.scope, ca_cert, ca)

    def counted(n: int) -> None:
        with count_lock:
            counts["exchanges"] += n

    @app.post("/v1/exchanges")
    def exchange(request: Request, body: TokenIn) -> dict[str, str]:
        """Run one exchange: the signed result token."""
        _check_sender(body.token, peer(request))
        result = hub.exchange(body.token, send)
        counted(1)
        return {"result": result}

    @app.post("/v1/exchanges/batch")
    def exchange_batch(request: Request, body: TokensIn) -> dict[str, Any]:
        """Run many exchanges: a result token or an error for each, in order."""
        who = peer(request)
        out: list[str | OpenMynaError] = []
        valid: list[int] = []
        for i, token in enumerate(body.tokens):
            try:
                _check_sender(token, who)
            except SenderNotPeer as exc:
                out.append(exc)
            else:
                out.append("")
                valid.append(i)
        if valid:
            done = hub.exchange_many([body.tokens[i] for i in valid], send)
            for i, r in zip(valid, done, strict=True):
                out[i] = r
        counted(len(valid))
        return {"results": _per_item(out, "result")}

    @app.post("/v1/codes")
    def issue_code(request: Request, body: NumberIn) -> dict[str, str]:
        """The calling agency's code for the person with that number."""
        return {"code": hub.issue_code(peer(request), body.individual_number)}

    @app.put("/v1/nodes/self")
    def register_node(request: Request, body: UrlIn) -> dict[str, str]:
        """Register the URL at which the hub reaches the calling agency's node."""
        who = peer(request)
        url = check_node_url(body.url)
        hub.register_node(who, url)
        return {"agency": who, "url": url}

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness, and how many exchanges this process has run."""
        with count_lock:
            return {"status": "ok", "role": HUB_ID, **counts}

    return app


# --- an agency node -----------------------------------------------------------------------


def _layout_json(layout: ItemLayout | None) -> dict[str, Any] | None:
    return None if layout is None else dict(layout.model_dump(mode="json"))


def create_node_app(
    node: AgencyNode,
    ca: NetworkCA,
    hub_url: str,
    *,
    advertise_url: str | None = None,
    hub: HubClient | None = None,
) -> FastAPI:
    """An agency node's web app; with ``advertise_url`` it registers with the hub on start."""
    hub_client = hub if hub is not None else HubClient(node.identity, ca, hub_url)
    ca_cert = ca.ca_certificate()
    me = node.agency_id
    state = {"registered": False}
    stop = threading.Event()
    if advertise_url is not None:
        advertise_url = check_node_url(advertise_url)

    def register_loop(url: str) -> None:
        delay = 0.05
        while not stop.is_set():
            try:
                hub_client.register(url)
            except OpenMynaError as exc:
                level = logging.INFO if isinstance(exc, HubUnavailable) else logging.WARNING
                log.log(
                    level, "node %s could not register with the hub (%s); retrying", me, exc.code
                )
                stop.wait(delay)
                delay = min(delay * 2, 2.0)
            else:
                state["registered"] = True
                log.info("node %s registered with the hub at %s", me, url)
                return

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if advertise_url is not None:
            thread = threading.Thread(
                target=register_loop, args=(advertise_url,), name=f"register-{me}", daemon=True
            )
            thread.start()
        try:
            yield
        finally:
            stop.set()
            singles.close()
            if thread is not None:
                thread.join(timeout=5)
            if hub is None:
                hub_client.close()

    app = FastAPI(title=f"openmyna network node {me}", lifespan=lifespan, openapi_url=None)
    problems.install(app)

    def from_hub(request: Request) -> None:
        tls.scope_agency(request.scope, ca_cert, ca, expected=HUB_ID)

    def own(request: Request) -> None:
        tls.scope_agency(request.scope, ca_cert, ca, expected=me)

    def outcome(got: ItemLayout | None, spec: RequestSpec) -> dict[str, Any]:
        key = str(spec.idempotency_key)
        return {
            "outcome": "no_data" if got is None else "provided",
            "item": _layout_json(got),
            "exchange_id": exchange_id_of(exchange_ref(me, key)),
        }

    @app.post("/v1/answer")
    def answer(request: Request, body: TokensIn) -> dict[str, Any]:
        """Answer forwarded requests (the hub only): an answer token or an error for each."""
        from_hub(request)
        return {"answers": _per_item(node.answer_many(body.tokens), "answer")}

    def ask(specs: list[RequestSpec]) -> list[dict[str, Any] | OpenMynaError]:
        """Carry requests through the hub in one batch: an outcome or an error for each.

        A broken connection to the hub (a hub process restarted, or gone behind the address)
        is retried once: new messages under the same keys continue the same exchanges,
        through whichever hub process answers now.
        """
        try:
            got = node.ask_many(specs, hub_client.exchange_many, retry_on=(HubUnavailable,))
        except (InvalidInput, IdempotencyConflict):
            if len(specs) == 1:
                raise
            return [r for spec in specs for r in ask_isolated(spec)]  # find the bad one
        return [
            g if isinstance(g, OpenMynaError) else outcome(g, spec)
            for spec, g in zip(specs, got, strict=True)
        ]

    def ask_isolated(spec: RequestSpec) -> list[dict[str, Any] | OpenMynaError]:
        try:
            return ask([spec])
        except OpenMynaError as exc:
            return [exc]

    # Concurrent single requests share one batch (group commit): one signature per hop and
    # one commit per database instead of one per request.
    singles: Batcher[RequestSpec, dict[str, Any]] = Batcher(
        ask, max_size=MAX_BATCH, workers=2, name=f"requests-{me}"
    )

    def keyed(spec: RequestSpec) -> RequestSpec:
        return dataclasses.replace(spec, idempotency_key=spec.idempotency_key or m.new_message_id())

    @app.post("/v1/requests")
    def request_item(request: Request, body: RequestIn) -> dict[str, Any]:
        """Ask for an item through the hub: ``provided`` with the item, or ``no_data``."""
        own(request)
        spec = keyed(body.spec())
        try:
            return singles.submit(spec)
        except OpenMynaError as exc:  # with the key to retry with
            raise with_context(exc, idempotency_key=str(spec.idempotency_key)) from None

    @app.post("/v1/requests/batch")
    def request_batch(request: Request, body: RequestsIn) -> dict[str, Any]:
        """Ask for many items in one hub call: an outcome or an error for each, in order."""
        own(request)
        specs = [keyed(r.spec()) for r in body.requests]
        out: list[dict[str, Any]] = []
        for spec, got in zip(specs, ask(specs), strict=True):
            if isinstance(got, OpenMynaError):
                out.append({"error": {**error_body(got), "idempotency_key": spec.idempotency_key}})
            else:
                out.append(got)
        return {"results": out}

    @app.post("/v1/codes")
    def issue_code(request: Request, body: NumberIn) -> dict[str, str]:
        """This agency's code for a person (asks the hub; the number goes nowhere else)."""
        own(request)
        return {"code": hub_client.issue_code(body.individual_number)}

    @app.put("/v1/items/{code}/{item}")
    def store_item(
        request: Request,
        code: Annotated[str, Path(pattern=CODE_PATTERN)],
        item: Annotated[str, Path(pattern=NAME_PATTERN)],
        payload: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        """Keep an item of a person under this agency's code (validated against the layout)."""
        own(request)
        layout = node.store_item(code, item, payload)
        return {"item": item, "version": type(layout).version, "data": _layout_json(layout)}

    @app.get("/v1/records")
    def records(request: Request) -> dict[str, Any]:
        """This node's own exchange records (never content, never a code)."""
        own(request)
        rows = [dataclasses.asdict(r) for r in node.store.records()]
        for r in rows:
            r["recorded_at"] = r["recorded_at"].isoformat()
            r["outcome"] = str(r["outcome"])
        return {"records": rows}

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness, and whether the node has registered its URL with the hub."""
        return {"status": "ok", "agency": me, "registered": state["registered"]}

    return app
