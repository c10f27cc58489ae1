"""The hub (コアシステム): verifies requests, checks the allow-list, translates codes, records.

``Hub.exchange_many`` carries a batch of signed requests through: verify, replay guard and
idempotency (in the hub database, shared by every hub process), allow-list, code translation,
forwarding through a ``Deliver`` function, answer checks, records, signed results. See
``openmyna.network.exchange`` for the flow and docs/network.md for the retry rules.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError, Unavailable
from openmyna.network import encryption, signing
from openmyna.network import messages as m
from openmyna.network.agencies import Agency, AgencyDirectory
from openmyna.network.allow_list import AllowList, default_allow_list
from openmyna.network.codes import AgencyCodes, IdentityLookup
from openmyna.network.errors import (
    AmbiguousProvider,
    IdempotencyConflict,
    MessageError,
    MisdirectedMessage,
    NotAllowed,
    ProviderUnavailable,
    ReplayedMessage,
    UnknownCode,
    UnknownSigner,
)
from openmyna.network.exchange import (
    Deliver,
    envelope_times,
    exchange_id_of,
    exchange_ref,
    sign_all,
)
from openmyna.network.hub_store import HubStore
from openmyna.network.netca import HUB_ID, NodeIdentity
from openmyna.network.records import ExchangeRecords, NewRecord, Outcome
from openmyna.network.self_information import SelfInformation, default_self_information


def _request_digest(req: m.ExchangeRequest) -> str:
    """What an idempotency key stands for: the same person, affair, item and provider."""
    body = [req.requester_code, req.affair, req.item, req.provider_kind, req.provider_agency]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


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
        resolve_key: signing.KeyResolver,
        *,
        self_information: SelfInformation | None = None,
    ) -> None:
        if identity.agency_id != HUB_ID:
            raise ValueError("the hub signs with the hub's node identity")
        self.settings = settings
        self.clock = clock
        self.codes = codes
        self.records = records
        self.allow_list = allow_list
        #: What the portal may fetch for the person themselves (自己情報, 番号法 附則第6条第3項).
        self.self_information = self_information or default_self_information()
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
        resolve_key: signing.KeyResolver,
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
                req = signing.verify(
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
                results[j.index] = ReplayedMessage("this message was already received")
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
        """Check the allow-list (the portal's own list for it), then translate the codes."""
        allowed = []
        for job in jobs:
            req = job.request
            try:
                permits = (
                    self.self_information
                    if str(job.requester.kind) == self.self_information.requester_kind
                    else self.allow_list
                )
                permits.check(str(job.requester.kind), req.affair, str(job.provider.kind), req.item)
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
            job.outcome, job.error_code = Outcome.FAILED, UnknownSigner.code
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
            reply_key=encryption.public_jwk(requester_key),
            **envelope_times(self.clock),
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
        tokens = sign_all(forwarded, self.identity)
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
            ans = signing.verify(
                answer, self._resolve_key, clock=self.clock, expected=m.ProviderAnswer
            )
            assert isinstance(ans, m.ProviderAnswer)
            if (ans.sender, ans.forwarded_id, ans.request_id) != (
                fwd.provider,
                fwd.message_id,
                fwd.request_id,
            ):
                raise MisdirectedMessage("the answer is not for this forwarded request")
        except MessageError as exc:
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
                    **envelope_times(self.clock),
                )
            )
        for j, token in zip(done, sign_all(envelopes, self.identity), strict=True):
            results[j.index] = token
