"""One exchange end to end, in process: the hub and the agency nodes as service objects.

A requester node signs an ``ExchangeRequest`` naming the person by its own agency-specific
code; the ``Hub`` verifies it against the requester's node certificate, checks the
allow-list (別表第二) by agency kinds, translates the code to the provider's and signs a
``ForwardedRequest``; the provider node looks the item up under its own code and answers with
the item encrypted for the requester's certified key only; the hub records the outcome and
relays the provider's signed answer, without being able to read it, in an ``ExchangeResult``;
the requester verifies both signatures, decrypts and validates the item against its layout.
Requester, provider and hub each record every exchange and every refusal (never the content).
HTTP and mutual TLS are put around these objects by the hub and node processes.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Final

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import InvalidInput, NotFound, OpenMynaError
from openmyna.network import messages as m
from openmyna.network.agencies import Agency, AgencyDirectory
from openmyna.network.allow_list import AllowList, NotAllowed
from openmyna.network.codes import AgencyCodes, UnknownCode
from openmyna.network.layouts import ItemLayout, MalformedItem, latest_version, validate_item
from openmyna.network.netca import HUB_ID, NodeIdentity
from openmyna.network.node_store import NodeStore
from openmyna.network.records import ExchangeRecords, Outcome

#: How long a message stays valid after it is signed.
MESSAGE_VALIDITY: Final = dt.timedelta(minutes=2)


class UnknownExchange(NotFound):
    """A message that refers to no exchange this party has under way."""

    code = "UNKNOWN_EXCHANGE"


class AmbiguousProvider(InvalidInput):
    """A request by provider kind when that kind has no agency, or more than one."""

    code = "AMBIGUOUS_PROVIDER"


class MisdirectedMessage(m.MessageError):
    """A message meant for another party, or contradicting the exchange it refers to."""

    code = "MISDIRECTED_MESSAGE"


class ExchangeRefused(OpenMynaError):
    """The hub answered the exchange with ``not_allowed`` or ``failed``."""

    code = "EXCHANGE_REFUSED"
    http_status = 403


@dataclass(frozen=True)
class Forwarded:
    """What the hub sends on: the signed forwarded request and the provider to send it to."""

    token: str
    provider: str


@dataclass(frozen=True)
class _HubPending:
    request: m.ExchangeRequest
    provider: str
    person_key: str


@dataclass(frozen=True)
class _NodePending:
    request: m.ExchangeRequest
    digest: str


def exchange_id_of(request_id: str) -> str:
    """The exchange id in records: the request's message id, dashed every 8 hex digits.

    Records refuse any value with twelve decimal digits in a row (no individual number may
    slip in); a bare 32-digit hex id has such a run about once in twelve exchanges.
    """
    return "-".join(request_id[i : i + 8] for i in range(0, len(request_id), 8))


def _envelope_times(clock: Clock) -> dict[str, Any]:
    now = clock.now()
    return {
        "message_id": m.new_message_id(),
        "issued_at": now,
        "expires_at": now + MESSAGE_VALIDITY,
    }


class Hub:
    """The hub (コアシステム): verifies, checks the allow-list, translates, records, relays."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        codes: AgencyCodes,
        records: ExchangeRecords,
        allow_list: AllowList,
        directory: AgencyDirectory,
        identity: NodeIdentity,
        resolve_key: m.KeyResolver,
    ) -> None:
        if identity.agency_id != HUB_ID:
            raise ValueError("the hub signs with the hub's node identity")
        self.settings = settings
        self.clock = clock
        self.codes = codes
        self.records = records
        self.allow_list = allow_list
        self.directory = directory
        self.identity = identity
        self._resolve_key = resolve_key
        self._replay = m.InMemoryReplayGuard(clock)
        self._pending: dict[str, _HubPending] = {}
        self._lock = threading.Lock()

    def _provider_of(self, request: m.ExchangeRequest) -> Agency:
        if request.provider_agency is not None:
            return self.directory.get_agency(request.provider_agency)
        candidates = self.directory.of_kind(str(request.provider_kind))
        if len(candidates) != 1:
            raise AmbiguousProvider(
                "name the provider agency: its kind has not exactly one agency",
                provider_kind=request.provider_kind,
            )
        return candidates[0]

    def forward(self, request_token: str) -> Forwarded:
        """Verify a request, check the allow-list, translate the code and sign the forward."""
        req = m.verify(
            request_token,
            self._resolve_key,
            clock=self.clock,
            replay_guard=self._replay,
            expected=m.ExchangeRequest,
        )
        assert isinstance(req, m.ExchangeRequest)
        requester = self.directory.get_agency(req.sender)
        provider = self._provider_of(req)
        try:
            person_key: str | None = self.codes.person_key(req.sender, req.requester_code)
        except UnknownCode:
            person_key = None

        def record(outcome: Outcome) -> None:
            self.records.append(
                requester=requester.id,
                provider=provider.id,
                affair=req.affair,
                item=req.item,
                outcome=outcome,
                person_key=person_key,
                exchange_id=exchange_id_of(req.message_id),
            )

        try:
            self.allow_list.check(str(requester.kind), req.affair, str(provider.kind), req.item)
        except NotAllowed:
            record(Outcome.NOT_ALLOWED)
            raise
        if person_key is None:
            record(Outcome.FAILED)
            raise UnknownCode("no such agency-specific code for that agency")
        requester_key = self._resolve_key(requester.id)
        if requester_key is None:  # verified just now; only a revocation in between gets here
            raise m.UnknownSigner("no key is known for this signer")
        fwd = m.ForwardedRequest(
            sender=self.identity.agency_id,
            request_id=req.message_id,
            request_digest=m.token_digest(request_token),
            requester=requester.id,
            provider=provider.id,
            provider_code=self.codes.translate(requester.id, req.requester_code, provider.id),
            affair=req.affair,
            item=req.item,
            reply_key=m.public_jwk(requester_key),
            **_envelope_times(self.clock),
        )
        with self._lock:
            self._pending[fwd.message_id] = _HubPending(req, provider.id, person_key)
        token = m.sign(fwd, self.identity.private_key, self.identity.agency_id)
        return Forwarded(token=token, provider=provider.id)

    def relay(self, answer_token: str) -> str:
        """Verify the provider's answer, record its outcome and sign the result (unread)."""
        ans = m.verify(
            answer_token,
            self._resolve_key,
            clock=self.clock,
            replay_guard=self._replay,
            expected=m.ProviderAnswer,
        )
        assert isinstance(ans, m.ProviderAnswer)
        with self._lock:
            pending = self._pending.get(ans.forwarded_id)
            if pending is None or pending.provider != ans.sender:
                raise UnknownExchange("no forwarded request of this provider has that id")
            if pending.request.message_id != ans.request_id:
                raise MisdirectedMessage("the answer names another request")
            del self._pending[ans.forwarded_id]
        req = pending.request
        self.records.append(
            requester=req.sender,
            provider=pending.provider,
            affair=req.affair,
            item=req.item,
            outcome=Outcome(ans.outcome),
            person_key=pending.person_key,
            exchange_id=exchange_id_of(req.message_id),
        )
        result = m.ExchangeResult(
            sender=self.identity.agency_id,
            request_id=req.message_id,
            outcome=ans.outcome,
            provider=pending.provider,
            answer=answer_token,
            **_envelope_times(self.clock),
        )
        return m.sign(result, self.identity.private_key, self.identity.agency_id)


class AgencyNode:
    """One agency's node: holds its items, asks for others' and answers forwarded requests."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        agency_id: str,
        identity: NodeIdentity,
        hub_public: m.PublicKeyLike,
        *,
        resolve_key: m.KeyResolver,
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
        self._replay = m.InMemoryReplayGuard(clock)
        self._pending: dict[str, _NodePending] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the node's database connections."""
        self.store.close()

    def _hub_key(self, kid: str) -> m.PublicKeyLike | None:
        return self._hub_public if kid == HUB_ID else None

    # --- provider side -----------------------------------------------------------------------

    def store_item(self, code: str, item: str, payload: dict[str, Any]) -> ItemLayout:
        """Validate an item against its latest layout and keep it under the agency's code."""
        version = latest_version(item)
        layout = validate_item(item, version, payload)
        self.store.put_item(code, item, version, layout.model_dump(mode="json"))
        return layout

    def answer(self, forwarded_token: str) -> str:
        """Answer a forwarded request: the item encrypted for the requester, or ``no_data``."""
        fwd = m.verify(
            forwarded_token,
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
            raise m.UnknownSigner("no certificate is known for the requester")
        m.check_reply_key(fwd, requester_key)
        held = self.store.get_item(fwd.provider_code, fwd.item)
        content: str | None = None
        if held is not None:
            version, payload = held
            validate_item(fwd.item, version, payload)
            content = m.encrypt_for(
                {"item": fwd.item, "version": version, "data": payload},
                requester_key,
                request_id=fwd.request_id,
            )
        outcome = Outcome.PROVIDED if content is not None else Outcome.NO_DATA
        ans = m.ProviderAnswer(
            sender=self.agency_id,
            request_id=fwd.request_id,
            forwarded_id=fwd.message_id,
            outcome="provided" if content is not None else "no_data",
            content=content,
            **_envelope_times(self.clock),
        )
        self.store.record(
            role="provider",
            peer=fwd.requester,
            affair=fwd.affair,
            item=fwd.item,
            outcome=outcome,
            exchange_id=exchange_id_of(fwd.request_id),
        )
        return m.sign(ans, self.identity.private_key, self.agency_id)

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
        req = m.ExchangeRequest(
            sender=self.agency_id,
            idempotency_key=idempotency_key or m.new_message_id(),
            requester_code=code,
            affair=affair,
            item=item,
            provider_kind=provider_kind,
            provider_agency=provider_agency,
            **_envelope_times(self.clock),
        )
        token = m.sign(req, self.identity.private_key, self.agency_id)
        with self._lock:
            self._pending[req.message_id] = _NodePending(req, m.token_digest(token))
        return token

    def _take(self, request_id: str) -> m.ExchangeRequest:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            raise UnknownExchange("no request of this node has that id")
        return pending.request

    def _record(self, req: m.ExchangeRequest, peer: str | None, outcome: Outcome) -> None:
        self.store.record(
            role="requester",
            peer=peer or req.provider_agency or str(req.provider_kind),
            affair=req.affair,
            item=req.item,
            outcome=outcome,
            exchange_id=exchange_id_of(req.message_id),
        )

    def refused(self, request_token: str, error: OpenMynaError) -> None:
        """Record that the hub refused one of this node's requests (``NOT_ALLOWED`` or other)."""
        digest = m.token_digest(request_token)
        with self._lock:
            found = [k for k, p in self._pending.items() if p.digest == digest]
        if not found:
            raise UnknownExchange("no request of this node has that token")
        req = self._take(found[0])
        outcome = Outcome.NOT_ALLOWED if isinstance(error, NotAllowed) else Outcome.FAILED
        self._record(req, None, outcome)

    def receive_result(self, token: str) -> ItemLayout | None:
        """Verify the hub's result and the provider's answer; the validated item, or None."""
        res = m.verify(
            token,
            self._hub_key,
            clock=self.clock,
            replay_guard=self._replay,
            expected=m.ExchangeResult,
        )
        assert isinstance(res, m.ExchangeResult)
        req = self._take(res.request_id)
        if res.outcome in ("not_allowed", "failed"):
            self._record(req, res.provider, Outcome(res.outcome))
            raise ExchangeRefused("the hub refused the exchange", outcome=res.outcome)
        try:
            return self._open_answer(req, res)
        except (m.MessageError, MalformedItem):
            self._record(req, res.provider, Outcome.INVALID_DATA)
            raise

    def _open_answer(self, req: m.ExchangeRequest, res: m.ExchangeResult) -> ItemLayout | None:
        assert res.answer is not None
        assert res.provider is not None
        if req.provider_agency is not None and res.provider != req.provider_agency:
            raise MisdirectedMessage("the answer comes from another provider than asked")
        ans = m.verify(res.answer, self._resolve_key, clock=self.clock, expected=m.ProviderAnswer)
        assert isinstance(ans, m.ProviderAnswer)
        if (ans.sender, ans.request_id, ans.outcome) != (res.provider, req.message_id, res.outcome):
            raise MisdirectedMessage("the provider's answer does not match the result")
        if ans.content is None:
            self._record(req, res.provider, Outcome.NO_DATA)
            return None
        body = m.decrypt(ans.content, self.identity.private_key, request_id=req.message_id)
        if body.get("item") != req.item or not isinstance(body.get("version"), int):
            raise MalformedItem("the answer carries another item than asked", item=req.item)
        layout = validate_item(req.item, body["version"], body.get("data"))
        self._record(req, res.provider, Outcome.PROVIDED)
        return layout
