"""The card's file model: applications (DFs), their elementary files and access conditions.

A card holds applications selected by AID, each a flat set of elementary files selected by a
2-byte file id. There are three kinds of EF:

- binary EFs (certificates, the token, the 券面 data), readable always or after a PIN EF
  of the same application is verified (``read_pin``);
- PIN EFs, verified and changed while selected;
- key EFs (RSA-2048, generated on the card and never exported), used by the sign command
  while selected and after their PIN (``pin_fid``).

``FileTree`` is the chip's persistent memory of them. The engine interprets it; the
applications (``jpki``, ``text_ap``, ``face_ap``, ``free_space``) are built out of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.pin import PinState

KEY_BITS = 2048
RSA_EXPONENT = 65537
#: Short EF identifiers are 1-30 (ISO/IEC 7816-4 §7.2.2: P1 = 100x xxxx, 0 and 31 are not ids).
MAX_SHORT_EF_ID = 30


class AppKind(StrEnum):
    """What an application on the card is."""

    JPKI = "jpki"
    TEXT = "text"
    FACE = "face"
    APPLET = "applet"


@dataclass
class BinaryEF:
    """A transparent EF; ``read_pin`` is the PIN EF that must be verified to read it."""

    fid: int
    data: bytes
    read_pin: int | None = None


@dataclass
class PinEF:
    """An EF holding a PIN (verify and change it while selected)."""

    fid: int
    pin: PinState


@dataclass
class KeyEF:
    """An EF holding an RSA private key usable after ``pin_fid`` is verified."""

    fid: int
    key: rsa.RSAPrivateKey
    pin_fid: int


EF = BinaryEF | PinEF | KeyEF


@dataclass
class Application:
    """An application (DF) on the card: an AID and its EFs by file id."""

    aid: bytes
    kind: AppKind
    label: str = ""
    files: dict[int, EF] = field(default_factory=dict)

    def add(self, ef: EF) -> None:
        """Add or replace an EF."""
        self.files[ef.fid] = ef

    def size(self) -> int:
        """Bytes of binary data held (what the free space counts)."""
        return sum(len(f.data) for f in self.files.values() if isinstance(f, BinaryEF))

    @property
    def accepts_short_ids(self) -> bool:
        """Whether READ BINARY and VERIFY may name this application's EFs by short EF id.

        Readers of the real card read the 券面事項入力補助AP's EF 0001-0004 and the 券面AP's
        EFs with ``00 B0 80|SFI 00`` and verify their PINs with ``00 20 00 80|SFI`` (AokiApp/
        jsapdu ``packages/apdu-utils/src/read-binary.ts`` ``readEfBinaryFull``, ``verify.ts``;
        used in ``examples/mynacard/src/kenhojo`` and ``kenkaku``). No source reads the JPKI AP
        that way (OpenSC's card-jpki.c selects every EF), so the JPKI AP refuses it.
        """
        return self.kind in (AppKind.TEXT, AppKind.FACE)

    def short_ef(self, sfi: int) -> EF | None:
        """The EF whose file id is the short EF id ``sfi`` (1-30), if this AP allows them."""
        if not self.accepts_short_ids or not 1 <= sfi <= MAX_SHORT_EF_ID:
            return None
        return self.files.get(sfi)


def new_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key, generated on the card."""
    return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=KEY_BITS)


class FileTree:
    """The applications on a card by AID, in installation order (the chip's memory)."""

    def __init__(self, applications: Iterable[Application] = ()) -> None:
        self._apps: dict[bytes, Application] = {a.aid: a for a in applications}

    def application(self, aid: bytes) -> Application | None:
        """The application with ``aid``, if installed."""
        return self._apps.get(aid)

    def applications(self) -> list[Application]:
        """Every application, in installation order."""
        return list(self._apps.values())

    def add(self, app: Application) -> None:
        """Install an application (or replace the one with the same AID)."""
        self._apps[app.aid] = app

    def remove(self, aid: bytes) -> None:
        """Delete an application (``KeyError`` if there is none with ``aid``)."""
        del self._apps[aid]

    def ef(self, aid: bytes, fid: int) -> EF:
        """An EF of an application (``KeyError`` if there is no such EF)."""
        app = self._apps.get(aid)
        if app is None or fid not in app.files:
            raise KeyError("no such EF")
        return app.files[fid]

    def pin(self, aid: bytes, fid: int) -> PinState:
        """A PIN's state (the issuer's view: counters and rules, never the value)."""
        ef = self.ef(aid, fid)
        if not isinstance(ef, PinEF):
            raise KeyError("not a PIN EF")
        return ef.pin

    def public_key(self, aid: bytes, fid: int) -> rsa.RSAPublicKey:
        """The public half of a key EF (what issuance sends to the CA)."""
        ef = self.ef(aid, fid)
        if not isinstance(ef, KeyEF):
            raise KeyError("not a key EF")
        return ef.key.public_key()
