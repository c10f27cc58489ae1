"""Exchanges end to end: the hub and the agency nodes as service objects.

A requester node signs an ``ExchangeRequest`` naming the person by its own agency-specific
code; the ``Hub`` verifies it against the requester's node certificate, checks the
allow-list (別表第二) by agency kinds, translates the code to the provider's and signs a
``ForwardedRequest``; the provider node looks the item up under its own code and answers with
the item encrypted for the requester's certified key only; the hub records the outcome and
relays the provider's signed answer, without being able to read it, in an ``ExchangeResult``;
the requester verifies both signatures, decrypts and validates the item against its layout.
Requester, provider and hub each record every exchange and every refusal (never the content),
once per exchange: a retry under the same idempotency key continues the same exchange.

The hub keeps its state in its database only (``HubStore``), so any number of hub processes
can serve one network. How a forwarded request reaches the provider is a ``Deliver``
function: a direct call in one process (``LocalNetwork``), HTTPS with mutual TLS between
processes (``service``). Batches go through the same code: one database transaction per
phase and one signature per batch (``messages.sign_many``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import InvalidInput, NotFound, OpenMynaError, Unavailable
from openmyna.network import messages as m
from openmyna.network.agencies import Agency, AgencyDirectory
from openmyna.network.allow_list import AllowList, NotAllowed, default_allow_list
from openmyna.network.codes import AgencyCodes, IdentityLookup, UnknownCode
from openmyna.network.hub_store import HubStore
from openmyna.network.layouts import ItemLayout, MalformedItem, latest_version, validate_item
from openmyna.network.netca import HUB_ID, NodeIdentity
from openmyna.network.node_store import (
    IdempotencyConflict as IdempotencyConflict,
)
from openmyna.network.node_store import (
    NewNodeRecord,
    NodeStore,
    OutgoingRequest,
)
from openmyna.network.records import ExchangeRecords, NewRecord, Outcome

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


class ProviderUnavailable(Unavailable):
    """The provider's node could not be reached; the exchange stays open for a retry."""

    code = "PROVIDER_UNAVAILABLE"


class ProviderError(OpenMynaError):
    """The provider's node refused to answer a forwarded request (its code in the details)."""

    code = "PROVIDER_ERROR"
    http_status = 502


#: How a hub hands forwarded requests to a provider's node: (provider agency id, forwarded
#: tokens) → one answer token (or the provider's error) per token, in order. It raises
#: ``ProviderUnavailable`` when the node cannot be reached.
Deliver = Callable[[str, list[str]], "Sequence[str | OpenMynaError]"]


@dataclass(frozen=True)
class RequestSpec:
    """What a requester asks for: an item of the person it knows by ``code``, for ``affair``."""

    code: str
    affair: str
    item: str
    provider_kind: str | None = None
    provider_agency: str | None = None
    idempotency_key: str | None = None


def exchange_ref(requester: str, idempotency_key: str) -> str:
    """The id of the exchange a requester opens under an idempotency key (32 hex digits).

    Both the requester and the hub derive it, so every attempt (retry) of one request is bound
    to the same exchange: the forwarded request, the provider's answer and the encrypted
    content all carry it.
    """
    return hashlib.sha256(f"{requester}\0{idempotency_key}".encode()).hexdigest()[:32]


def exchange_id_of(ref: str) -> str:
    """The exchange id in records: the exchange ref, dashed every 8 hex digits.

    Records refuse any value with twelve decimal digits in a row (no individual number may
    slip in); a bare 32-digit hex id has such a run about once in twelve exchanges.
    """
    return "-".join(ref[i : i + 8] for i in range(0, len(ref), 8))


def _request_digest(req: m.ExchangeRequest) -> str:
    """What an idempotency key stands for: the same person, affair, item and provider."""
    body = [req.requester_code, req.affair, req.item, req.provider_kind, req.provider_agency]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def _envelope_times(clock: Clock) -> dict[str, Any]:
    now = clock.now()
    return {
        "message_id": m.new_message_id(),
        "issued_at": now,
        "expires_at": now + MESSAGE_VALIDITY,
    }


def _sign_all(envelopes: Sequence[m.Envelope], identity: NodeIdentity) -> list[str]:
    """One plain signature for one envelope, one batch signature for several."""
    if not envelopes:
        return []
    if len(envelopes) == 1:
        return [m.sign(envelopes[0], identity.private_key, identity.agency_id)]
    return m.sign_many(list(envelopes), identity.private_key, identity.agency_id)


@dataclass
class _Job:
    """One request as the hub works through it."""

    index: int
    token: str
    request: m.ExchangeRequest
    requester: Agency
    provider: Agency
    exchange_id: str = ""
    person_key: str | None = None
    outcome: Outcome | None = None
    error_code: str | None = None
    answer: str | None = None
    forwarded: m.ForwardedRequest | None = None


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
        self.state = HubStore(records.store, clock)
        self._resolve_key = resolve_key

    @classmethod
    def open(
        cls,
        settings: Settings,
        clock: Clock,
        identities: IdentityLookup,
        identity: NodeIdentity,
        resolve_key: m.KeyResolver,
        *,
        allow_list: AllowList | None = None,
        directory: AgencyDirectory | None = None,
    ) -> Hub:
        """Open the hub database (codes, records, exchanges) and serve with ``identity``."""
        directory = directory or AgencyDirectory.default()
        codes = AgencyCodes.open(settings, clock, identities, agencies=directory)
        try:
            records = ExchangeRecords.open(settings, clock)
        except BaseException:
            codes.close()
            raise
        allow = allow_list or default_allow_list()
        return cls(settings, clock, codes, records, allow, directory, identity, resolve_key)

    def close(self) -> None:
        """Release the database connections."""
        self.records.close()
        self.codes.close()

    # --- codes and nodes ----------------------------------------------------------------------

    def issue_code(self, agency_id: str, individual_number: str) -> str:
        """The agency's code for the person with that number (the number's only journey)."""
        return self.codes.issue(agency_id, individual_number)

    def register_node(self, agency_id: str, url: str) -> None:
        """Remember where the agency's node listens (shared by every hub process)."""
        self.directory.get_agency(agency_id)
        self.state.register_node(agency_id, url)

    def node_url(self, agency_id: str) -> str:
        """Where the agency's node listens; ``UNKNOWN_NODE`` if it never registered."""
        return self.state.node_url(agency_id)

    # --- exchanges ----------------------------------------------------------------------------

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

    def exchange(self, request_token: str, deliver: Deliver) -> str:
        """Carry one request through to a signed result token (see ``exchange_many``)."""
        result = self.exchange_many([request_token], deliver)[0]
        if isinstance(result, OpenMynaError):
            raise result
        return result

    def exchange_many(
        self, request_tokens: Sequence[str], deliver: Deliver
    ) -> list[str | OpenMynaError]:
        """Carry requests through the network; a signed result token or an error for each.

        A result token is returned for every exchange the hub acted on, refusals included
        (``not_allowed``: not on the allow-list; ``failed``: an unknown code or a provider
        answer that does not verify) — each recorded once. An error is returned for a request
        the hub did not act on: a message that does not verify, is expired or replayed, an
        unknown agency, an idempotency key reused for another request, or a provider that
        cannot be reached (``PROVIDER_UNAVAILABLE``: the exchange stays open and unrecorded;
        a retry under the same idempotency key continues it).
        """
        results: list[str | OpenMynaError | None] = [None] * len(request_tokens)
        jobs = self._verified(request_tokens, results)
        jobs = self._opened(jobs, results)
        self._route([j for j in jobs if j.outcome is None])
        pending = [j for j in jobs if j.outcome is None]
        self._forward(pending, deliver, results)
        done = [j for j in jobs if j.outcome is not None]
        self._record(done)
        self._results(done, results)
        return [r if r is not None else Unavailable("no result") for r in results]

    def _verified(
        self, tokens: Sequence[str], results: list[str | OpenMynaError | None]
    ) -> list[_Job]:
        """Verify every request; the replay guard (shared by all hubs) in one transaction."""
        jobs: list[_Job] = []
        for i, token in enumerate(tokens):
            try:
                req = m.verify(
                    token, self._resolve_key, clock=self.clock, expected=m.ExchangeRequest
                )
                assert isinstance(req, m.ExchangeRequest)
                requester = self.directory.get_agency(req.sender)
                jobs.append(_Job(i, token, req, requester, self._provider_of(req)))
            except OpenMynaError as exc:
                results[i] = exc
        if not jobs:
            return []
        with self.state.transaction() as s:
            fresh = self.state.first_seen(
                s, [(j.request.sender, j.request.message_id, j.request.expires_at) for j in jobs]
            )
        kept = []
        for j in jobs:
            if (j.request.sender, j.request.message_id) in fresh:
                kept.append(j)
            else:
                results[j.index] = m.ReplayedMessage("this message was already received")
        return kept

    def _opened(self, jobs: list[_Job], results: list[str | OpenMynaError | None]) -> list[_Job]:
        """Open an exchange per idempotency key, or find the one an earlier attempt opened."""
        if not jobs:
            return []
        wanted = []
        for j in jobs:
            ref = exchange_ref(j.requester.id, j.request.idempotency_key)
            wanted.append(
                (
                    exchange_id_of(ref),
                    j.requester.id,
                    j.request.idempotency_key,
                    _request_digest(j.request),
                )
            )
        with self.state.transaction() as s:
            held = self.state.open_exchanges(s, wanted)
        kept, seen = [], set()
        for j, (_, requester, key, digest) in zip(jobs, wanted, strict=True):
            ex = held[(requester, key)]
            if ex.request_digest != digest or (requester, key) in seen:
                results[j.index] = IdempotencyConflict(
                    "this idempotency key was used for another request"
                )
                continue
            seen.add((requester, key))
            j.exchange_id = ex.exchange_id
            if ex.state == "refused":  # a retry of a refused request: the same refusal again
                j.outcome = (
                    Outcome.NOT_ALLOWED if ex.error_code == NotAllowed.code else Outcome.FAILED
                )
                j.error_code = ex.error_code
            kept.append(j)
        return kept

    def _route(self, jobs: list[_Job]) -> None:
        """Check the allow-list, then translate the requesters' codes to the providers'."""
        allowed = []
        for job in jobs:
            req = job.request
            try:
                self.allow_list.check(
                    str(job.requester.kind), req.affair, str(job.provider.kind), req.item
                )
                allowed.append(job)
            except NotAllowed as exc:
                job.outcome, job.error_code = Outcome.NOT_ALLOWED, exc.code
                self._person_key(job)
        routes = self.codes.route_many(
            [(j.requester.id, j.request.requester_code, j.provider.id) for j in allowed]
        )
        for job, route in zip(allowed, routes, strict=True):
            if isinstance(route, UnknownCode):
                job.outcome, job.error_code = Outcome.FAILED, route.code
                continue
            code, job.person_key = route
            self._forwarded(job, code)

    def _forwarded(self, job: _Job, provider_code: str) -> None:
        req = job.request
        requester_key = self._resolve_key(job.requester.id)
        if requester_key is None:  # verified just now; only a revocation in between gets here
            job.outcome, job.error_code = Outcome.FAILED, m.UnknownSigner.code
            return
        job.forwarded = m.ForwardedRequest(
            sender=self.identity.agency_id,
            request_id=job.exchange_id.replace("-", ""),
            request_digest=m.token_digest(job.token),
            requester=job.requester.id,
            provider=job.provider.id,
            provider_code=provider_code,
            affair=req.affair,
            item=req.item,
            reply_key=m.public_jwk(requester_key),
            **_envelope_times(self.clock),
        )

    def _person_key(self, job: _Job) -> None:
        try:
            job.person_key = self.codes.person_key(job.requester.id, job.request.requester_code)
        except UnknownCode:
            job.person_key = None

    def _forward(
        self, jobs: list[_Job], deliver: Deliver, results: list[str | OpenMynaError | None]
    ) -> None:
        """Sign the forwarded requests (one signature), deliver them per provider, check answers."""
        forwarded = [j.forwarded for j in jobs if j.forwarded is not None]
        tokens = _sign_all(forwarded, self.identity)
        by_provider: dict[str, list[tuple[_Job, str]]] = defaultdict(list)
        for job, token in zip(jobs, tokens, strict=True):
            by_provider[job.provider.id].append((job, token))
        for provider, batch in by_provider.items():
            try:
                answers = deliver(provider, [t for _, t in batch])
                if len(answers) != len(batch):
                    raise ProviderUnavailable("the provider answered another number of requests")
            except OpenMynaError as exc:
                for job, _ in batch:
                    results[job.index] = exc
                continue
            for (job, _), answer in zip(batch, answers, strict=True):
                self._check_answer(job, answer)

    def _check_answer(self, job: _Job, answer: str | OpenMynaError) -> None:
        fwd = job.forwarded
        assert fwd is not None
        if isinstance(answer, OpenMynaError):
            job.outcome, job.error_code = Outcome.FAILED, answer.code
            return
        try:
            ans = m.verify(answer, self._resolve_key, clock=self.clock, expected=m.ProviderAnswer)
            assert isinstance(ans, m.ProviderAnswer)
            if (ans.sender, ans.forwarded_id, ans.request_id) != (
                fwd.provider,
                fwd.message_id,
                fwd.request_id,
            ):
                raise MisdirectedMessage("the answer is not for this forwarded request")
        except m.MessageError as exc:
            job.outcome, job.error_code = Outcome.FAILED, exc.code
            return
        job.outcome, job.answer = Outcome(ans.outcome), answer

    def _record(self, done: list[_Job]) -> None:
        """Close the exchanges and write their records in one transaction (each only once)."""
        if not done:
            return
        with self.state.transaction() as s:
            newly: set[str] = set()
            groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
            for j in done:
                state = "refused" if j.answer is None else "done"
                groups[(state, j.error_code if state == "refused" else None)].append(j.exchange_id)
            for (state, error_code), ids in groups.items():
                newly |= self.state.close_exchanges(s, ids, state, error_code)
            entries = [
                NewRecord(
                    requester=j.requester.id,
                    provider=j.provider.id,
                    affair=j.request.affair,
                    item=j.request.item,
                    outcome=j.outcome or Outcome.FAILED,
                    person_key=j.person_key,
                    exchange_id=j.exchange_id,
                )
                for j in done
                if j.exchange_id in newly
            ]
            self.records.append_many(entries, session=s)

    def _results(self, done: list[_Job], results: list[str | OpenMynaError | None]) -> None:
        envelopes = []
        for j in done:
            answered = j.answer is not None
            envelopes.append(
                m.ExchangeResult(
                    sender=self.identity.agency_id,
                    request_id=j.request.message_id,
                    outcome=str(j.outcome),
                    provider=j.provider.id if answered else None,
                    answer=j.answer,
                    error_code=None if answered else (j.error_code or "FAILED"),
                    **_envelope_times(self.clock),
                )
            )
        for j, token in zip(done, _sign_all(envelopes, self.identity), strict=True):
            results[j.index] = token


class AgencyNode:
    """One agency's node (中間サーバー): holds its items, asks for others', answers the hub."""

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
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: Settings,
        clock: Clock,
        identity: NodeIdentity,
        hub_public: m.PublicKeyLike,
        resolve_key: m.KeyResolver,
    ) -> AgencyNode:
        """Open the node of ``identity``'s agency with its own database."""
        return cls(
            settings, clock, identity.agency_id, identity, hub_public, resolve_key=resolve_key
        )

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
        accepted: list[tuple[int, m.ForwardedRequest, m.PublicKeyLike]] = []
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
                content = m.encrypt_for(
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
                    **_envelope_times(self.clock),
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
        for (i, _, _), token in zip(accepted, _sign_all(answers, self.identity), strict=True):
            results[i] = token
        return [r if r is not None else Unavailable("no answer") for r in results]

    def _accept_forwarded(self, token: str) -> tuple[m.ForwardedRequest, m.PublicKeyLike]:
        fwd = m.verify(
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
            raise m.UnknownSigner("no certificate is known for the requester")
        m.check_reply_key(fwd, requester_key)
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
        return _sign_all(envelopes, self.identity)

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
                **_envelope_times(self.clock),
            )
            for spec in specs
        ]

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
                verified = m.verify(
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
            except (m.MessageError, MalformedItem) as exc:
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
        ans = m.verify(res.answer, self._resolve_key, clock=self.clock, expected=m.ProviderAnswer)
        assert isinstance(ans, m.ProviderAnswer)
        if (ans.sender, ans.request_id, ans.outcome) != (res.provider, ref, res.outcome):
            raise MisdirectedMessage("the provider's answer does not match the result")
        if ans.content is None:
            return None
        body = m.decrypt(ans.content, self.identity.private_key, request_id=ref)
        if body.get("item") != req.item or not isinstance(body.get("version"), int):
            raise MalformedItem("the answer carries another item than asked", item=req.item)
        return validate_item(req.item, body["version"], body.get("data"))
