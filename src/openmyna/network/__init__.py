"""The Information Provision Network (情報提供ネットワークシステム, SPEC X1–X6).

The agency directory, agency-specific codes (機関別符号) issued and translated only by the
hub, the legal allow-list (別表第二), the typed information-item layouts (データ標準レイアウト),
the hub's tamper-evident exchange records (情報提供等記録) with the oversight query log, the
network CA with mutual TLS (``netca``, ``netca_profiles``, ``tls``), the message formats
(``messages``), signed (``signing``) and encrypted (``encryption``), the hub and the agency
nodes (``hub``, ``node``, ``exchange``), as HTTP processes (``service``, ``clients``) or all
in one process (``local``). Every error of the network, with its stable code, is in
``errors``. The child-allowance scenario and the nodes' demo data are in ``openmyna.demo``.
See docs/network.md.
"""

from openmyna.network.agencies import Agency, AgencyDirectory, AgencyKind, find_agency
from openmyna.network.allow_list import AllowEntry, AllowList, default_allow_list, load_allow_list
from openmyna.network.codes import AgencyCodes
from openmyna.network.errors import MalformedItem, NotAllowed, PersonNotFound, UnknownCode
from openmyna.network.hub import Hub
from openmyna.network.layouts import LAYOUTS, layout_for, validate_item
from openmyna.network.netca import NetworkCA, NodeIdentity
from openmyna.network.node import AgencyNode
from openmyna.network.oversight import Oversight
from openmyna.network.records import ExchangeRecords, Outcome

__all__ = [
    "LAYOUTS",
    "Agency",
    "AgencyCodes",
    "AgencyDirectory",
    "AgencyKind",
    "AgencyNode",
    "AllowEntry",
    "AllowList",
    "ExchangeRecords",
    "Hub",
    "MalformedItem",
    "NetworkCA",
    "NodeIdentity",
    "NotAllowed",
    "Outcome",
    "Oversight",
    "PersonNotFound",
    "UnknownCode",
    "default_allow_list",
    "find_agency",
    "layout_for",
    "load_allow_list",
    "validate_item",
]
