"""The card's layout: application ids, file ids and the names clients use for them.

Facts of the real My Number Card (the ids OpenSC's JPKI driver and other readers use):

| application | AID |
|---|---|
| JPKI AP (公的個人認証AP) | ``D3 92 F0 00 26 01 00 00 00 01`` |
| 券面事項入力補助AP (text_ap) | ``D3 92 10 00 31 00 01 01 04 08`` |
| 券面AP (face_ap) | ``D3 92 10 00 31 00 01 01 04 02`` |
"""

from __future__ import annotations

from enum import Enum

from openmyna.card.pin import PinRule

JPKI_AID = bytes.fromhex("D392F000260100000001")
TEXT_AID = bytes.fromhex("D3921000310001010408")
FACE_AID = bytes.fromhex("D3921000310001010402")
BUILT_IN_AIDS = frozenset({JPKI_AID, TEXT_AID, FACE_AID})

# JPKI AP
EF_JPKI_TOKEN = 0x0006
EF_SIGN_CERT = 0x0001
EF_SIGN_CA = 0x0002
EF_AUTH_CERT = 0x000A
EF_AUTH_CA = 0x000B
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_SIGN_KEY = 0x001A
EF_SIGN_PIN = 0x001B
#: EF 0006: the token that says "this is a My Number Card" (space-padded to 32 bytes).
JPKI_TOKEN = b"JPKIAPICCTOKEN2".ljust(32, b" ")

# 券面事項入力補助AP
EF_TEXT_NUMBER = 0x0001
EF_TEXT_ITEMS = 0x0002
EF_TEXT_DIGESTS = 0x0003
EF_TEXT_SIGNER_CERT = 0x0004
EF_TEXT_BASIC_INFO = 0x0005
EF_TEXT_PIN = 0x0011

# 券面AP
EF_FACE_ENTRIES = 0x0002
EF_FACE_SIGNER_CERT = 0x0004
EF_FACE_NUMBER = 0x0005
EF_FACE_PIN_A = 0x0013


class PinRef(Enum):
    """The holder's PINs, by application and PIN EF."""

    AUTH = (JPKI_AID, EF_AUTH_PIN, PinRule.AUTH_PIN)
    SIGN = (JPKI_AID, EF_SIGN_PIN, PinRule.SIGN_PASSWORD)
    TEXT = (TEXT_AID, EF_TEXT_PIN, PinRule.TEXT_PIN)
    FACE_A = (FACE_AID, EF_FACE_PIN_A, PinRule.NUMBER)

    @property
    def aid(self) -> bytes:
        """The application holding the PIN."""
        return self.value[0]

    @property
    def fid(self) -> int:
        """The PIN's EF."""
        return self.value[1]

    @property
    def rule(self) -> PinRule:
        """What the PIN may look like."""
        return self.value[2]

    @classmethod
    def parse(cls, text: str) -> PinRef:
        """A PIN by name: ``auth``, ``sign``, ``text`` or ``face``."""
        names = {"auth": cls.AUTH, "sign": cls.SIGN, "text": cls.TEXT, "face": cls.FACE_A}
        try:
            return names[text.strip().lower()]
        except KeyError:
            raise ValueError("PIN is one of auth, sign, text, face") from None


class KeyRef(Enum):
    """The JPKI keys: key EF and the PIN that unlocks it."""

    AUTH = (EF_AUTH_KEY, PinRef.AUTH)
    SIGN = (EF_SIGN_KEY, PinRef.SIGN)

    @property
    def fid(self) -> int:
        """The key's EF."""
        return self.value[0]

    @property
    def pin(self) -> PinRef:
        """The PIN to verify before signing."""
        return self.value[1]


class CertSlot(Enum):
    """The four certificate EFs of the JPKI AP."""

    AUTH = EF_AUTH_CERT
    AUTH_CA = EF_AUTH_CA
    SIGN = EF_SIGN_CERT
    SIGN_CA = EF_SIGN_CA

    @property
    def fid(self) -> int:
        """The certificate's EF."""
        return int(self.value)
