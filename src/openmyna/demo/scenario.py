"""The scenario that shows the network: child allowance (児童手当) without attached documents.

A family lived in municipality A on 1 January and moved to municipality B this year. The
parent applies for child allowance at B. Before the network, B asked for a tax certificate
(課税証明書) and a copy of the residence record (住民票) from A; now nothing is attached
(添付書類の撤廃, SPEC X5): B's node obtains A's local-tax information (地方税関係情報) and
resident-record information (住民票関係情報) over the network, as the allow-list (別表第二)
permits for this affair, and each side records the exchange:

1. At B's counter the applicant's number is checked; B's node gets B's agency-specific code
   for the person from the hub (the number's only journey).
2. B learns from its own registry that the family moved in from A (転入: previous
   municipality), so A levied this year's resident tax.
3. B's node asks A, through the hub, for ``local_tax`` and ``resident_registry`` under the
   affair ``child_allowance`` (one batch: one signature, one hub call); the hub checks the
   allow-list, translates B's code into A's, A's node answers encrypted for B only.
4. Optionally, a request the allow-list does not permit (``welfare`` for child allowance) is
   made as well: the hub refuses it and the refusal is recorded at B and at the hub.

The report holds what B received (validated layouts) and the records B's node, A's node and
the hub wrote for these exchanges — the records hold no content, no code and no number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final

from openmyna.demo.family import ScenarioFamily
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network.agencies import municipality_agency_id
from openmyna.network.errors import ExchangeRefused
from openmyna.network.exchange import RequestSpec, exchange_id_of, exchange_ref
from openmyna.network.item_layout import ItemLayout
from openmyna.network.local import LocalNetwork
from openmyna.network.local_layouts import LocalTaxInfo, ResidentRegistryInfo
from openmyna.network.node_store import NodeRecord
from openmyna.network.records import ExchangeRecord
from openmyna.numbers import mask_individual_number
from openmyna.numbers.redaction import masked_repr

__all__ = [
    "AFFAIR",
    "DOCUMENTS_REPLACED",
    "NOT_PERMITTED_ITEM",
    "ChildAllowanceApplication",
    "Received",
    "Refused",
    "ScenarioFailed",
    "ScenarioReport",
    "application_for",
    "run_child_allowance",
]

AFFAIR: Final = "child_allowance"
#: The documents the application no longer needs, by the item that replaces each.
DOCUMENTS_REPLACED: Final = {"local_tax": "課税証明書", "resident_registry": "住民票の写し"}
#: An item the allow-list does not permit for child allowance (to show the refusal).
NOT_PERMITTED_ITEM: Final = "welfare"


class ScenarioFailed(OpenMynaError):
    """The scenario could not obtain what the application needs (the reason in the details)."""

    code = "SCENARIO_FAILED"
    http_status = 502


@dataclass(frozen=True)
class ChildAllowanceApplication:
    """An application for child allowance at B (認定請求), as the counter takes it."""

    individual_number: str  # checked at the counter (番号確認); used only to get B's code
    at_lg_code: str  # B: where the family lives now
    previous_lg_code: str  # A: where they lived on 1 January (B's record of the move-in)
    attachments: tuple[str, ...] = ()  # documents handed in: none any more

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class Received:
    """One item B obtained over the network instead of a document."""

    item: str
    provider: str
    exchange_id: str
    layout: ItemLayout | None  # None: the provider holds nothing (no_data)
    replaces: str


@dataclass(frozen=True)
class Refused:
    """A request the hub refused (and recorded)."""

    item: str
    provider: str
    exchange_id: str
    outcome: str
    reason: str | None


@dataclass(frozen=True)
class ScenarioReport:
    """What the scenario shows: the items B got and every side's records of the exchanges."""

    affair: str
    requester: str  # B's agency id
    provider: str  # A's agency id
    applicant: str  # the applicant's number, masked (**** **** 1234)
    attachments: tuple[str, ...]
    received: tuple[Received, ...]
    refused: tuple[Refused, ...]
    requester_records: tuple[NodeRecord, ...]  # B's node
    provider_records: tuple[NodeRecord, ...]  # A's node
    hub_records: tuple[ExchangeRecord, ...]  # the hub (情報提供等記録)
    exchange_ids: tuple[str, ...] = field(default=())

    def item(self, item: str) -> ItemLayout | None:
        """The layout B received for ``item`` (None if none)."""
        for r in self.received:
            if r.item == item:
                return r.layout
        return None

    @property
    def local_tax(self) -> LocalTaxInfo | None:
        """A's local-tax information about the applicant."""
        got = self.item("local_tax")
        return got if isinstance(got, LocalTaxInfo) else None

    @property
    def resident_registry(self) -> ResidentRegistryInfo | None:
        """A's resident-record information about the applicant."""
        got = self.item("resident_registry")
        return got if isinstance(got, ResidentRegistryInfo) else None

    @property
    def documents_not_attached(self) -> tuple[str, ...]:
        """The documents the applicant did not have to bring."""
        return tuple(DOCUMENTS_REPLACED[r.item] for r in self.received if r.layout is not None)


def application_for(family: ScenarioFamily) -> ChildAllowanceApplication:
    """The application the scenario family's parent makes at B (nothing attached)."""
    applicant = family.applicant
    previous = applicant.moved_in_from_lg_code or family.from_lg_code
    return ChildAllowanceApplication(
        individual_number=applicant.individual_number,
        at_lg_code=family.to_lg_code,
        previous_lg_code=previous,
    )


def run_child_allowance(
    network: LocalNetwork,
    application: ChildAllowanceApplication,
    *,
    show_refusal: bool = True,
) -> ScenarioReport:
    """Run the child-allowance application at B against A over ``network``.

    ``show_refusal``: also make one request the allow-list does not permit, to show that the
    hub refuses and records it. Raises ``SCENARIO_FAILED`` if a permitted item could not be
    obtained (refused, or an error of the hub), ``INVALID_INPUT`` for an application with
    documents attached or naming one municipality twice.
    """
    if application.attachments:
        raise InvalidInput("the application takes no attached documents any more")
    if application.at_lg_code == application.previous_lg_code:
        raise InvalidInput("the previous municipality is the one applied at")
    b = municipality_agency_id(application.at_lg_code)
    a = municipality_agency_id(application.previous_lg_code)
    code_b = network.issue_code(b, application.individual_number)

    items = list(DOCUMENTS_REPLACED)
    if show_refusal:
        items.append(NOT_PERMITTED_ITEM)
    keys = [f"child-allowance-{secrets.token_hex(8)}-{item}" for item in items]
    specs = [
        RequestSpec(code_b, AFFAIR, item, provider_agency=a, idempotency_key=key)
        for item, key in zip(items, keys, strict=True)
    ]
    ids = [exchange_id_of(exchange_ref(b, key)) for key in keys]
    outcomes = network.ask_many(b, specs)

    received: list[Received] = []
    refused: list[Refused] = []
    for item, exchange_id, got in zip(items, ids, outcomes, strict=True):
        if isinstance(got, ExchangeRefused):
            refused.append(
                Refused(
                    item,
                    a,
                    exchange_id,
                    str(got.context.get("outcome", "")),
                    got.context.get("reason"),
                )
            )
        elif isinstance(got, OpenMynaError):
            raise ScenarioFailed(
                "an exchange of the scenario failed", item=item, reason=got.code
            ) from got
        else:
            received.append(Received(item, a, exchange_id, got, DOCUMENTS_REPLACED[item]))
    wanted = [r for r in refused if r.item in DOCUMENTS_REPLACED]
    if wanted:
        raise ScenarioFailed(
            "the hub refused an item the allow-list should permit",
            item=wanted[0].item,
            outcome=wanted[0].outcome,
        )

    mine = set(ids)
    return ScenarioReport(
        affair=AFFAIR,
        requester=b,
        provider=a,
        applicant=mask_individual_number(application.individual_number),
        attachments=application.attachments,
        received=tuple(received),
        refused=tuple(refused),
        requester_records=tuple(
            r for r in network.node(b).store.records() if r.exchange_id in mine
        ),
        provider_records=tuple(r for r in network.node(a).store.records() if r.exchange_id in mine),
        hub_records=tuple(
            r
            for r in network.records_for_number(application.individual_number)
            if r.exchange_id in mine
        ),
        exchange_ids=tuple(ids),
    )
