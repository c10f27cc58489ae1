"""The whole Information Provision Network in one process, on the processes' code paths.

``LocalNetwork`` opens what the hub process and the agency-node processes open — the network
CA (``NetworkCA``), the ``Hub`` on its own database with the registry's national identity
index, and one ``AgencyNode`` per agency on that agency's own database — and connects them
with an in-process ``Deliver`` that calls the provider node's ``answer_many`` where the hub
process would make an HTTPS call over mutual TLS. Messages are signed, verified, encrypted and
recorded exactly as between processes; only the transport is a function call.

The demo platform (``openmyna demo``/``serve``), the scenario (``demo.scenario``) and the
portal use it. The hub and the nodes are opened on first use, so a platform that never
exchanges anything pays nothing for the network.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.network.agencies import Agency, AgencyDirectory
from openmyna.network.allow_list import AllowList, default_allow_list
from openmyna.network.codes import IdentityLookup
from openmyna.network.errors import ProviderUnavailable, RecordNotFound
from openmyna.network.exchange import RequestSpec
from openmyna.network.hub import Hub
from openmyna.network.item_layout import ItemLayout
from openmyna.network.layouts import LAYOUTS, latest_version
from openmyna.network.netca import HUB_ID, NetworkCA
from openmyna.network.node import AgencyNode
from openmyna.network.records import ExchangeRecord, PersonPage, PersonQuery
from openmyna.network.self_information import SelfInformation, default_self_information

__all__ = ["LocalNetwork", "NetworkNames", "RequestSpec"]


@dataclass(frozen=True)
class NetworkNames:
    """The Japanese names of the network's agencies, affairs (事務) and items, by id."""

    agencies: Mapping[str, str]
    affairs: Mapping[str, str]
    items: Mapping[str, str]


class LocalNetwork:
    """The hub and every agency node in one process; nodes are opened lazily, per agency."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        identities: IdentityLookup,
        *,
        allow_list: AllowList | None = None,
        directory: AgencyDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.allow_list: AllowList = allow_list or default_allow_list()
        self.directory: AgencyDirectory = directory or AgencyDirectory.default()
        #: What the portal may fetch for the person themselves (自己情報).
        self.self_information: SelfInformation = default_self_information()
        self._identities = identities
        self._lock = threading.RLock()
        self._ca: NetworkCA | None = None
        self._hub: Hub | None = None
        self._nodes: dict[str, AgencyNode] = {}
        self._closed = False

    # --- the parts -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the local network is closed")

    @property
    def ca(self) -> NetworkCA:
        """The network CA of this data dir (created on first use)."""
        with self._lock:
            self._check_open()
            if self._ca is None:
                self._ca = NetworkCA.open(self.settings, self.clock)
            return self._ca

    @property
    def hub(self) -> Hub:
        """The hub, on its own database, signing with the hub's node identity."""
        with self._lock:
            self._check_open()
            if self._hub is None:
                ca = self.ca
                self._hub = Hub.open(
                    self.settings,
                    self.clock,
                    self._identities,
                    ca.node(HUB_ID),
                    ca.resolver(),
                    allow_list=self.allow_list,
                    directory=self.directory,
                )
            return self._hub

    def node(self, agency_id: str) -> AgencyNode:
        """The node of an agency in the directory (``UNKNOWN_AGENCY`` otherwise)."""
        with self._lock:
            self._check_open()
            held = self._nodes.get(agency_id)
            if held is not None:
                return held
            self.directory.get_agency(agency_id)
            ca = self.ca
            hub_public = ca.node(HUB_ID).certificate
            node = AgencyNode.open(
                self.settings, self.clock, ca.node(agency_id), hub_public, ca.resolver()
            )
            self._nodes[agency_id] = node
            return node

    def open_nodes(self) -> list[str]:
        """The agencies whose node this process has opened, sorted."""
        with self._lock:
            return sorted(self._nodes)

    def agencies(self, kind: str | None = None) -> list[Agency]:
        """The agencies on the network (of one kind, if given), by id."""
        if kind is not None:
            return self.directory.of_kind(kind)
        return sorted(self.directory.values(), key=lambda a: a.id)

    # --- exchanging ------------------------------------------------------------------------

    def deliver(self, provider: str, forwarded_tokens: list[str]) -> list[str | OpenMynaError]:
        """The hub's transport to a provider node: its ``answer_many``, in process.

        One answer token, or the provider's refusal of that forwarded request, per token. Like
        the HTTP transport, a provider whose node cannot be opened is ``PROVIDER_UNAVAILABLE``
        to the hub: the exchange stays open and a retry with the same idempotency key
        completes it.
        """
        try:
            node = self.node(provider)
        except OpenMynaError as exc:
            raise ProviderUnavailable(
                "the provider node cannot be reached", provider=provider[:40]
            ) from exc
        return node.answer_many(forwarded_tokens)

    def issue_code(self, agency_id: str, individual_number: str) -> str:
        """The agency's agency-specific code for a person (issued by the hub on first use)."""
        return self.hub.issue_code(agency_id, individual_number)

    def ask(
        self,
        requester: str,
        code: str,
        affair: str,
        item: str,
        *,
        provider_agency: str | None = None,
        provider_kind: str | None = None,
        idempotency_key: str | None = None,
    ) -> ItemLayout | None:
        """One exchange: ``requester``'s node asks, the hub relays, the provider answers.

        Returns the validated item, or None when the provider holds none (``no_data``).
        A refusal (not on the allow-list, an unknown code) raises ``EXCHANGE_REFUSED`` after
        it was recorded at the requester and the hub; hub errors (``PROVIDER_UNAVAILABLE``,
        ``IDEMPOTENCY_CONFLICT``, message errors) propagate.
        """
        spec = RequestSpec(code, affair, item, provider_kind, provider_agency, idempotency_key)
        [got] = self.ask_many(requester, [spec])
        if isinstance(got, OpenMynaError):
            raise got
        return got

    def ask_many(
        self, requester: str, specs: Sequence[RequestSpec]
    ) -> list[ItemLayout | OpenMynaError | None]:
        """Several exchanges of one requester in one batch (one signature, one hub call).

        One entry per spec, in order: the item, None (``no_data``) or the error for that
        exchange (``EXCHANGE_REFUSED`` for a recorded refusal, or the hub's error).
        """
        hub = self.hub
        return self.node(requester).ask_many(
            specs, lambda tokens: hub.exchange_many(tokens, self.deliver)
        )

    def records_for_number(self, individual_number: str) -> list[ExchangeRecord]:
        """The hub's exchange records about one person (the portal's やりとり履歴).

        The number is mapped to the person's opaque record key by the hub; records carry
        neither the number nor any code, nor any content.
        """
        hub = self.hub
        return hub.records.for_person(hub.codes.person_key_of_number(individual_number))

    def translate(self, from_agency: str, code: str, to_agency: str) -> str:
        """``to_agency``'s code for the person ``from_agency`` knows by ``code`` (the hub's)."""
        return self.hub.codes.translate(from_agency, code, to_agency)

    def person_records(self, agency_id: str, code: str, query: PersonQuery) -> PersonPage:
        """A page of the hub's records about the person ``agency_id`` knows by ``code``.

        How the portal pages a person's やりとり履歴 under its own agency-specific code:
        newest first, filtered by period, agency and item in the hub's database.
        """
        hub = self.hub
        return hub.records.page_for_person(hub.codes.person_key(agency_id, code), query)

    def person_record(self, agency_id: str, code: str, seq: int) -> ExchangeRecord:
        """One record about that person; ``RECORD_NOT_FOUND`` if none, or about someone else."""
        hub = self.hub
        found = hub.records.one_for_person(hub.codes.person_key(agency_id, code), seq)
        if found is None:
            raise RecordNotFound("no such exchange record")
        return found

    @cached_property
    def names(self) -> NetworkNames:
        """The Japanese names of agencies, affairs and items (from the network's data)."""
        affairs = {k: a.name_ja for k, a in self.allow_list.affairs.items()}
        affairs[self.self_information.affair] = self.self_information.info.name_ja
        return NetworkNames(
            agencies={a.id: a.name for a in self.directory.values()},
            affairs=affairs,
            items={i: LAYOUTS[i][latest_version(i)].name_ja for i in LAYOUTS},
        )

    def health(self) -> dict[str, Any]:
        """What is open, without opening anything (no personal data)."""
        with self._lock:
            return {
                "hub": "open" if self._hub is not None else "idle",
                "nodes_open": len(self._nodes),
                "agencies": len(self.directory),
                "allow_list": {"version": self.allow_list.version, "entries": len(self.allow_list)},
            }

    def close(self) -> None:
        """Close every node and the hub (idempotent)."""
        with self._lock:
            nodes = list(self._nodes.values())
            self._nodes.clear()
            hub, self._hub = self._hub, None
            self._closed = True
        for node in nodes:
            node.close()
        if hub is not None:
            hub.close()

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
