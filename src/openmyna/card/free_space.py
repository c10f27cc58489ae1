"""The free space (空き領域): small applets that municipalities and businesses install later.

An applet is an AID with a few binary EFs and one access condition for all of them: readable
by anyone who selects it (``ALWAYS``), or only after its own PIN (``PIN``, EF 0010, 4–8
digits) is verified. Holders read applets with the same SELECT / VERIFY / READ BINARY APDUs
as the built-in applications. On a real card, installing needs the issuer's keys and a
secure channel; here ``install_applet(card, …)`` stands in for that step, done by whoever
holds the card file (the issuing municipality's counter, a service at enrolment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from openmyna.card.engine import VirtualCard
from openmyna.card.errors import AppletExists, AppletNotFound, FreeSpaceFull, InvalidApplet
from openmyna.card.files import AppKind, Application, BinaryEF, PinEF
from openmyna.card.layout import BUILT_IN_AIDS
from openmyna.card.pin import PinRule, PinState

#: Bytes of EF data the free space holds in total.
FREE_SPACE_BYTES = 16 * 1024
APPLET_PIN_FID = 0x0010
MAX_FILES = 16
_RESERVED_FIDS = frozenset({0x3F00, 0x3FFF, 0xFFFF, 0x0000})


class AppletAccess(StrEnum):
    """Who may read an applet's files."""

    ALWAYS = "always"
    PIN = "pin"


@dataclass(frozen=True)
class AppletInfo:
    """An installed applet, as the card lists it."""

    aid: bytes
    label: str
    access: AppletAccess
    file_ids: tuple[int, ...]
    size: int


def _info(app: Application) -> AppletInfo:
    protected = any(isinstance(f, PinEF) for f in app.files.values())
    fids = tuple(sorted(f.fid for f in app.files.values() if isinstance(f, BinaryEF)))
    return AppletInfo(
        app.aid, app.label, AppletAccess.PIN if protected else AppletAccess.ALWAYS, fids, app.size()
    )


def applets(card: VirtualCard) -> list[AppletInfo]:
    """The applets in the free space."""
    return [_info(a) for a in card.files.applications() if a.kind is AppKind.APPLET]


def free_space_left(card: VirtualCard) -> int:
    """Bytes still free."""
    return FREE_SPACE_BYTES - sum(a.size for a in applets(card))


def install_applet(
    card: VirtualCard,
    aid: bytes,
    files: Mapping[int, bytes],
    *,
    access: AppletAccess | str = AppletAccess.ALWAYS,
    pin: str | None = None,
    pin_tries: int = 3,
    label: str = "",
) -> AppletInfo:
    """Install an applet (AID 5–16 bytes, up to 16 files); refused if it does not fit."""
    mode = AppletAccess(access)
    if not 5 <= len(aid) <= 16:
        raise InvalidApplet("an AID has 5-16 bytes")
    if aid in BUILT_IN_AIDS:
        raise AppletExists("that AID belongs to a built-in application")
    if card.files.application(aid) is not None:
        raise AppletExists("an applet with that AID is installed")
    if not files or len(files) > MAX_FILES:
        raise InvalidApplet(f"an applet has 1-{MAX_FILES} files")
    for fid in files:
        if not 0 <= fid <= 0xFFFF or fid in _RESERVED_FIDS or fid == APPLET_PIN_FID:
            raise InvalidApplet("file ids are 2 bytes, not 0000, 0010, 3F00, 3FFF or FFFF")
    if len(label) > 64:
        raise InvalidApplet("the label has at most 64 characters")
    size = sum(len(data) for data in files.values())
    if size > free_space_left(card):
        raise FreeSpaceFull("the applet does not fit in the free space", needed=size)
    app = Application(bytes(aid), AppKind.APPLET, label)
    read_pin: int | None = None
    if mode is AppletAccess.PIN:
        if pin is None:
            raise InvalidApplet("an applet read after a PIN needs the PIN")
        app.add(PinEF(APPLET_PIN_FID, PinState.new(PinRule.APPLET_PIN, pin, max_tries=pin_tries)))
        read_pin = APPLET_PIN_FID
    elif pin is not None:
        raise InvalidApplet("a PIN is only used with access=pin")
    for fid, data in files.items():
        app.add(BinaryEF(fid, bytes(data), read_pin=read_pin))
    card.files.add(app)
    card.changed()
    return _info(app)


def remove_applet(card: VirtualCard, aid: bytes) -> None:
    """Remove an installed applet and free its space."""
    app = card.files.application(aid)
    if app is None or app.kind is not AppKind.APPLET:
        raise AppletNotFound("no applet with that AID")
    card.files.remove(aid)  # the engine drops its selection of it before the next command
    card.changed()
