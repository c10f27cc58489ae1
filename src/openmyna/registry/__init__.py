"""The basic resident registry (住民基本台帳, SPEC R1–R4).

Each municipality keeps its own registry database (store kind ``registry``, body =
local government code); the national identity index (本人確認情報) is another body
(``identity_index``/``national``) kept current from the registries' events on the bus.

Public API: ``Registries`` (the facade), ``MunicipalRegistry`` (one municipality),
``IdentityIndex``, the value models and the errors below.
"""

from openmyna.registry.errors import (
    DuplicateResident,
    HouseholdNotFound,
    InvalidDate,
    InvalidLgCode,
    InvalidResidentData,
    MunicipalityNotFound,
    NoMoveOut,
    NotRemovedRecord,
    ResidentNotFound,
    ResidentRemoved,
)
from openmyna.registry.index import IdentityIndex, IdentityNotFound
from openmyna.registry.models import (
    Arrival,
    AuditEntry,
    BasicItems,
    BulkResult,
    EventType,
    Household,
    IdentityEntry,
    IdentityStatus,
    MoveOutCertificate,
    MunicipalityInfo,
    NewHousehold,
    NewPerson,
    Relationship,
    RemovalReason,
    RemovedRecordCertificate,
    Resident,
    Sex,
    Status,
)
from openmyna.registry.municipalities import (
    Municipality,
    MunicipalityKind,
    find_municipality,
    known_municipalities,
    lg_check_digit,
    municipality_kind,
    validate_lg_code,
)
from openmyna.registry.registries import Registries
from openmyna.registry.services import MunicipalRegistry

__all__ = [
    "Arrival",
    "AuditEntry",
    "BasicItems",
    "BulkResult",
    "DuplicateResident",
    "EventType",
    "Household",
    "HouseholdNotFound",
    "IdentityEntry",
    "IdentityIndex",
    "IdentityNotFound",
    "IdentityStatus",
    "InvalidDate",
    "InvalidLgCode",
    "InvalidResidentData",
    "MoveOutCertificate",
    "MunicipalRegistry",
    "Municipality",
    "MunicipalityInfo",
    "MunicipalityKind",
    "MunicipalityNotFound",
    "NewHousehold",
    "NewPerson",
    "NoMoveOut",
    "NotRemovedRecord",
    "Registries",
    "Relationship",
    "RemovalReason",
    "RemovedRecordCertificate",
    "Resident",
    "ResidentNotFound",
    "ResidentRemoved",
    "Sex",
    "Status",
    "find_municipality",
    "known_municipalities",
    "lg_check_digit",
    "municipality_kind",
    "validate_lg_code",
]
