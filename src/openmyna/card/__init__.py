"""The My Number Card (マイナンバーカード, SPEC C1–C4) at the APDU level.

- ``VirtualCard``: an emulated card that answers ISO/IEC 7816-4 APDUs like the real one
  (JPKI AP, 券面事項入力補助AP, 券面AP, free space), with its keys generated inside.
- ``CardFile``: the holder's card, encrypted and authenticated at rest.
- ``Transport`` / ``open_transport`` / ``MemoryTransport``: how APDUs reach a card
  (in memory, a card file, or PC/SC for vpcd and real cards).
- ``CardClient``: one client for every transport, APDUs only.
- ``CardLifecycle``: application, issuance, loss, reissue, PIN reset and loss of effect
  (C1, C2), driven by registry events on the bus.
"""

from openmyna.card.apdu import SW, CommandAPDU, ResponseAPDU, encode_command, parse_command
from openmyna.card.cardfile import CardFile
from openmyna.card.client import CardClient, FaceRead, TextData
from openmyna.card.engine import MY_NUMBER_CARD_ATR, VirtualCard
from openmyna.card.errors import (
    AppletExists,
    AppletNotFound,
    CardApplicationNotFound,
    CardError,
    CardFileInvalid,
    CardFileKeyMismatch,
    CardFileNotFound,
    CardFileOutdated,
    CardFileTampered,
    CardInUse,
    CardNotFound,
    CardStateError,
    CardTransitionRefused,
    FreeSpaceFull,
    HolderNotResident,
    IdentityCheckMissing,
    InvalidApplet,
    NotAMyNumberCard,
    PeriodOfStayEnded,
    PinFormatInvalid,
    PinLocked,
    PinWrong,
    ReaderUnavailable,
    SecurityNotSatisfied,
)
from openmyna.card.free_space import AppletAccess, AppletInfo
from openmyna.card.issuance import CertificateIssuer
from openmyna.card.layout import FACE_AID, JPKI_AID, TEXT_AID, CertSlot, KeyRef, PinRef
from openmyna.card.lifecycle import CardLifecycle, IdentitySource
from openmyna.card.models import (
    ApplicationChannel,
    ApplicationStatus,
    CardApplication,
    CardAuditEntry,
    CardEventType,
    CardRecord,
    CardStatus,
    IssuedCard,
    StatusReason,
)
from openmyna.card.personalize import HolderData, Personalization
from openmyna.card.pin import PinRule
from openmyna.card.signer import CardDataSigner
from openmyna.card.text_ap import CardItems
from openmyna.card.transport import MemoryTransport, Transport, open_transport

__all__ = [
    "FACE_AID",
    "JPKI_AID",
    "MY_NUMBER_CARD_ATR",
    "SW",
    "TEXT_AID",
    "AppletAccess",
    "AppletExists",
    "AppletInfo",
    "AppletNotFound",
    "ApplicationChannel",
    "ApplicationStatus",
    "CardApplication",
    "CardApplicationNotFound",
    "CardAuditEntry",
    "CardClient",
    "CardDataSigner",
    "CardError",
    "CardEventType",
    "CardFile",
    "CardFileInvalid",
    "CardFileKeyMismatch",
    "CardFileNotFound",
    "CardFileOutdated",
    "CardFileTampered",
    "CardInUse",
    "CardItems",
    "CardLifecycle",
    "CardNotFound",
    "CardRecord",
    "CardStateError",
    "CardStatus",
    "CardTransitionRefused",
    "CertSlot",
    "CertificateIssuer",
    "CommandAPDU",
    "FaceRead",
    "FreeSpaceFull",
    "HolderData",
    "HolderNotResident",
    "IdentityCheckMissing",
    "IdentitySource",
    "InvalidApplet",
    "IssuedCard",
    "KeyRef",
    "MemoryTransport",
    "NotAMyNumberCard",
    "PeriodOfStayEnded",
    "Personalization",
    "PinFormatInvalid",
    "PinLocked",
    "PinRef",
    "PinRule",
    "PinWrong",
    "ReaderUnavailable",
    "ResponseAPDU",
    "SecurityNotSatisfied",
    "StatusReason",
    "TextData",
    "Transport",
    "VirtualCard",
    "encode_command",
    "open_transport",
    "parse_command",
]
