"""An agency's node (中間サーバー): its items under its own codes, its requests and answers.

As a provider it answers the hub's forwarded requests from its own database, encrypting each
item for the requester only; as a requester it signs requests under idempotency keys and
checks, decrypts and validates what comes back. It records every exchange once, never the
content. See ``openmyna.network.exchange`` for the flow.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import InvalidInput, OpenMynaError, Unavailable
from openmyna.network import encryption, signing
from openmyna.network import messages as m
from openmyna.network.errors import (
    ExchangeRefused,
    MalformedItem,
    MessageError,
    MisdirectedMessage,
    UnknownExchange,
    UnknownSigner,
)
from openmyna.network.exchange import (
    RequestSpec,
    envelope_times,
    exchange_id_of,
    exchange_ref,
    sign_all,
)
from openmyna.network.item_layout import ItemLayout
from openmyna.network.layouts import latest_version, validate_item
from openmyna.network.netca import HUB_ID, NodeIdentity
from openmyna.network.node_store import NewNodeRecord, NodeStore, OutgoingRequest
from openmyna.network.records import Outcome


class AgencyNode:
    """One agency's node (中間サーバー): holds its items, asks for others', answers the hub."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        agency_id: str,
        identity: NodeIdentity,
        hub_public: signing.PublicKeyLike,
        *,
        resolve_key: signing.KeyResolver,
        store: NodeStore | None = None,
    ) -> None:
        if identity.agency_id != agency_id:
            raise ValueError("the node identity belongs to another agency")
        self.settings = settings
        self.clock = clock
        self.agency_id = agency_id
        self.identity = identity
        self.store = store if store is not None else NodeStore.open(settings, clock, agency_id)
        self._hub_public = hub_public
        self._resolve_key = resolve_key
        self._replay = signing.InMemoryReplayGuard(clock)
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: Settings,
        clock: Clock,
        identity: NodeIdentity,
        hub_public: signing.PublicKeyLike,
        resolve_key: signing.KeyResolver,
    ) -> AgencyNode:
        """Open the node of ``identity``'s agency with its own database."""
        return cls(
            settings, clock, identity.agency_id, identity, hub_public, resolve_key=resolve_key
        )

    def close(self) -> None:
        """Release the node's database connections."""
        self.store.close()

    def _hub_key(self, kid: str) -> signing.PublicKeyLike | None:
        return self._hub_public if kid == HUB_ID else None

    # --- provider side -----------------------------------------------------------------------

    def store_item(self, code: str, item: str, payload: dict[str, Any]) -> ItemLayout:
        """Validate an item against its latest layout and keep it under the agency's code."""
        version = latest_version(item)
        layout = validate_item(item, version, payload)
        self.store.put_item(code, item, version, layout.model_dump(mode="json"))
        return layout

    def answer(self, forwarded_token: str) -> str:
        """Answer one forwarded request (see ``answer_many``); raise its error."""
        result = self.answer_many([forwarded_token])[0]
        if isinstance(result, OpenMynaError):
            raise result
        return result

    def answer_many(self, forwarded_tokens: Sequence[str]) -> list[str | OpenMynaError]:
        """Answer forwarded requests: each item encrypted for its requester, or ``no_data``.

        Every answered request is recorded once (a forwarded retry of the same exchange is
        answered again but not recorded twice); the answers share one signature.
        """
        results: list[str | OpenMynaError | None] = [None] * len(forwarded_tokens)
        accepted: list[tuple[int, m.ForwardedRequest, signing.PublicKeyLike]] = []
        for i, token in enumerate(forwarded_tokens):
            try:
                accepted.append((i, *self._accept_forwarded(token)))
            except OpenMynaError as exc:
                results[i] = exc
        held = self.store.get_items([(f.provider_code, f.item) for _, f, _ in accepted])
        answers: list[m.ProviderAnswer] = []
        for _, fwd, requester_key in accepted:
            content: str | None = None
            found = held.get((fwd.provider_code, fwd.item))
            if found is not None:
                version, payload = found
                validate_item(fwd.item, version, payload)
                content = encryption.encrypt_for(
                    {"item": fwd.item, "version": version, "data": payload},
                    requester_key,
                    request_id=fwd.request_id,
                )
            answers.append(
                m.ProviderAnswer(
                    sender=self.agency_id,
                    request_id=fwd.request_id,
                    forwarded_id=fwd.message_id,
                    outcome="provided" if content is not None else "no_data",
                    content=content,
                    **envelope_times(self.clock),
                )
            )
        self.store.record_many(
            [
                NewNodeRecord(
                    role="provider",
                    peer=fwd.requester,
                    affair=fwd.affair,
                    item=fwd.item,
                    outcome=Outcome(ans.outcome),
                    exchange_id=exchange_id_of(fwd.request_id),
                )
                for (_, fwd, _), ans in zip(accepted, answers, strict=True)
            ]
        )
        for (i, _, _), token in zip(accepted, sign_all(answers, self.identity), strict=True):
            results[i] = token
        return [r if r is not None else Unavailable("no answer") for r in results]

    def _accept_forwarded(self, token: str) -> tuple[m.ForwardedRequest, signing.PublicKeyLike]:
        fwd = signing.verify(
            token,
            self._hub_key,
            clock=self.clock,
            replay_guard=self._replay,
            expected=m.ForwardedRequest,
        )
        assert isinstance(fwd, m.ForwardedRequest)
        if fwd.provider != self.agency_id:
            raise MisdirectedMessage("the forwarded request is for another provider")
        requester_key = self._resolve_key(fwd.requester)
        if requester_key is None:
            raise UnknownSigner("no certificate is known for the requester")
        encryption.check_reply_key(fwd, requester_key)
        return fwd, requester_key

    # --- requester side ----------------------------------------------------------------------

    def request(
        self,
        code: str,
        affair: str,
        item: str,
        provider_kind: str | None = None,
        provider_agency: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """Sign a request for an item of the person this agency knows by ``code``."""
        spec = RequestSpec(code, affair, item, provider_kind, provider_agency, idempotency_key)
        return self.request_many([spec])[0]

    def request_many(self, specs: Sequence[RequestSpec]) -> list[str]:
        """Sign requests (one signature for several), remembered under their idempotency keys.

        A key used before continues its exchange (a retry); used before for another request,
        it is refused with ``IDEMPOTENCY_CONFLICT`` before anything is sent.
        """
        try:
            envelopes = self._envelopes(specs)
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            raise InvalidInput("a request is malformed", fields=fields) from None
        wanted = [
            OutgoingRequest(
                idempotency_key=e.idempotency_key,
                request_id=e.message_id,
                code=e.requester_code,
                affair=e.affair,
                item=e.item,
                provider_kind=e.provider_kind,
                provider_agency=e.provider_agency,
            )
            for e in envelopes
        ]
        self.store.open_requests(wanted)
        return sign_all(envelopes, self.identity)

    def _envelopes(self, specs: Sequence[RequestSpec]) -> list[m.ExchangeRequest]:
        return [
            m.ExchangeRequest(
                sender=self.agency_id,
                idempotency_key=spec.idempotency_key or m.new_message_id(),
                requester_code=spec.code,
                affair=spec.affair,
                item=spec.item,
                provider_kind=spec.provider_kind,
                provider_agency=spec.provider_agency,
                **envelope_times(self.clock),
            )
            for spec in specs
        ]

    def ask_many(
        self,
        specs: Sequence[RequestSpec],
        send: Callable[[list[str]], Sequence[str | OpenMynaError]],
        *,
        retry_on: tuple[type[OpenMynaError], ...] = (),
    ) -> list[ItemLayout | OpenMynaError | None]:
        """The requester's round trip for a batch: sign, ``send`` to the hub, check the results.

        ``send`` takes the request tokens and returns the hub's result token (or error) for
        each: ``Hub.exchange_many`` in one process, ``HubClient.exchange_many`` over HTTP. If
        it raises one of ``retry_on``, the requests are sent once more as a retry (new
        messages, same idempotency keys: the same exchanges). One entry per spec, in order:
        the validated item, None (``no_data``) or that exchange's error. Errors of the batch
        as a whole (a malformed request, an idempotency conflict, ``send`` failing) raise.
        """
        keyed = [
            dataclasses.replace(s, idempotency_key=s.idempotency_key or m.new_message_id())
            for s in specs
        ]
        tokens = self.request_many(keyed)
        try:
            results = send(tokens)
        except retry_on:
            results = send(self.request_many(keyed))
        received = iter(self.receive_results([r for r in results if isinstance(r, str)]))
        return [r if isinstance(r, OpenMynaError) else next(received) for r in results]

    def receive_result(self, token: str) -> ItemLayout | None:
        """Verify the hub's result and the provider's answer; the validated item, or None.

        Raises ``EXCHANGE_REFUSED`` (not allowed, failed) and ``INVALID_DATA``-recorded errors
        (``MalformedItem``, a tampered answer) after recording them.
        """
        result = self.receive_results([token])[0]
        if isinstance(result, OpenMynaError):
            raise result
        return result

    def receive_results(self, tokens: Sequence[str]) -> list[ItemLayout | OpenMynaError | None]:
        """``receive_result`` for many results; their records in one transaction."""
        out: list[ItemLayout | OpenMynaError | None] = []
        records: list[NewNodeRecord] = []
        checked: list[tuple[m.ExchangeResult | None, OpenMynaError | None]] = []
        for token in tokens:
            try:
                verified = signing.verify(
                    token,
                    self._hub_key,
                    clock=self.clock,
                    replay_guard=self._replay,
                    expected=m.ExchangeResult,
                )
                assert isinstance(verified, m.ExchangeResult)
                checked.append((verified, None))
            except OpenMynaError as exc:
                checked.append((None, exc))
        sent = self.store.outgoing([r.request_id for r, _ in checked if r is not None])
        for res, error in checked:
            if res is None:
                assert error is not None
                out.append(error)
                continue
            req = sent.get(res.request_id)
            if req is None:
                out.append(UnknownExchange("no request of this node has that id"))
                continue
            ref = exchange_ref(self.agency_id, req.idempotency_key)
            peer = res.provider or req.provider_agency or str(req.provider_kind)
            try:
                got = self._open_result(req, ref, res)
                outcome = Outcome.PROVIDED if got is not None else Outcome.NO_DATA
                out.append(got)
            except ExchangeRefused as exc:
                outcome = Outcome(res.outcome)
                out.append(exc)
            except (MessageError, MalformedItem) as exc:
                outcome = Outcome.INVALID_DATA
                out.append(exc)
            records.append(
                NewNodeRecord(
                    role="requester",
                    peer=peer,
                    affair=req.affair,
                    item=req.item,
                    outcome=outcome,
                    exchange_id=exchange_id_of(ref),
                )
            )
        self.store.record_many(records)
        return out

    def _open_result(
        self, req: OutgoingRequest, ref: str, res: m.ExchangeResult
    ) -> ItemLayout | None:
        if res.outcome in ("not_allowed", "failed"):
            raise ExchangeRefused(
                "the hub refused the exchange", outcome=res.outcome, reason=res.error_code
            )
        assert res.answer is not None
        assert res.provider is not None
        if req.provider_agency is not None and res.provider != req.provider_agency:
            raise MisdirectedMessage("the answer comes from another provider than asked")
        ans = signing.verify(
            res.answer, self._resolve_key, clock=self.clock, expected=m.ProviderAnswer
        )
        assert isinstance(ans, m.ProviderAnswer)
        if (ans.sender, ans.request_id, ans.outcome) != (res.provider, ref, res.outcome):
            raise MisdirectedMessage("the provider's answer does not match the result")
        if ans.content is None:
            return None
        body = encryption.decrypt(ans.content, self.identity.private_key, request_id=ref)
        if body.get("item") != req.item or not isinstance(body.get("version"), int):
            raise MalformedItem("the answer carries another item than asked", item=req.item)
        return validate_item(req.item, body["version"], body.get("data"))
