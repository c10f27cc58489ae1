"""The free space (空き領域): applets installed and removed, read with ordinary APDUs."""

from __future__ import annotations

import pytest

from openmyna.card import (
    JPKI_AID,
    AppletAccess,
    AppletExists,
    AppletNotFound,
    CardClient,
    FreeSpaceFull,
    InvalidApplet,
    PinFormatInvalid,
    SecurityNotSatisfied,
    VirtualCard,
)
from openmyna.card.free_space import (
    APPLET_PIN_FID,
    FREE_SPACE_BYTES,
    applets,
    free_space_left,
    install_applet,
    remove_applet,
)
from openmyna.card.state import dump_card, load_card

LIBRARY = bytes.fromhex("F0000000010001")  # a library card applet (made-up AID)


def test_install_read_and_remove(card: VirtualCard, client: CardClient) -> None:
    before = free_space_left(card)
    assert before == FREE_SPACE_BYTES
    info = install_applet(card, LIBRARY, {0x0101: b"member 000123", 0x0102: b"since 2026"})
    assert info.access is AppletAccess.ALWAYS
    assert info.file_ids == (0x0101, 0x0102)
    assert free_space_left(card) == before - len(b"member 000123") - len(b"since 2026")
    assert client.read_file(LIBRARY, 0x0101) == b"member 000123"
    assert [a.aid for a in applets(card)] == [LIBRARY]
    remove_applet(card, LIBRARY)
    assert applets(card) == []
    assert free_space_left(card) == before
    client.select_application(JPKI_AID)
    with pytest.raises(AppletNotFound):
        remove_applet(card, LIBRARY)
    with pytest.raises(AppletNotFound):
        remove_applet(card, JPKI_AID)  # built-in applications stay


def test_an_applet_behind_its_own_pin(card: VirtualCard, client: CardClient) -> None:
    install_applet(card, LIBRARY, {0x0101: b"points: 120"}, access="pin", pin="2580", pin_tries=4)
    with pytest.raises(SecurityNotSatisfied):
        client.read_file(LIBRARY, 0x0101)
    client.select_file(APPLET_PIN_FID)
    _, sw = client._send(bytes.fromhex("00200080"))
    assert sw == 0x63C4
    _, sw = client._send(bytes.fromhex("002000800432353830"))
    assert sw == 0x9000
    assert client.read_file(LIBRARY, 0x0101) == b"points: 120"
    assert applets(card)[0].access is AppletAccess.PIN


def test_space_is_limited(card: VirtualCard) -> None:
    install_applet(card, LIBRARY, {0x0001: bytes(FREE_SPACE_BYTES - 10)})
    with pytest.raises(FreeSpaceFull) as caught:
        install_applet(card, bytes.fromhex("F0000000010002"), {0x0001: bytes(11)})
    assert caught.value.code == "CARD_FREE_SPACE_FULL"
    install_applet(card, bytes.fromhex("F0000000010002"), {0x0001: bytes(10)})
    assert free_space_left(card) == 0


@pytest.mark.parametrize(
    ("aid", "files", "kwargs", "error"),
    [
        (b"\x01\x02", {1: b"x"}, {}, InvalidApplet),  # AID too short
        (bytes(17), {1: b"x"}, {}, InvalidApplet),  # AID too long
        (JPKI_AID, {1: b"x"}, {}, AppletExists),  # a built-in AID
        (LIBRARY, {}, {}, InvalidApplet),  # no files
        (LIBRARY, {i: b"x" for i in range(1, 18)}, {}, InvalidApplet),  # too many
        (LIBRARY, {0x3F00: b"x"}, {}, InvalidApplet),  # reserved file id
        (LIBRARY, {APPLET_PIN_FID: b"x"}, {}, InvalidApplet),  # the PIN's file id
        (LIBRARY, {1: b"x"}, {"access": "pin"}, InvalidApplet),  # PIN access without PIN
        (LIBRARY, {1: b"x"}, {"pin": "1234"}, InvalidApplet),  # a PIN that guards nothing
        (LIBRARY, {1: b"x"}, {"access": "pin", "pin": "12"}, PinFormatInvalid),
        (LIBRARY, {1: b"x"}, {"label": "x" * 65}, InvalidApplet),
    ],
)
def test_refused_applets(
    card: VirtualCard, aid: bytes, files: dict[int, bytes], kwargs: dict[str, str], error: type
) -> None:
    with pytest.raises(error):
        install_applet(card, aid, files, **kwargs)  # type: ignore[arg-type]
    assert applets(card) == []


def test_the_same_aid_twice(card: VirtualCard) -> None:
    install_applet(card, LIBRARY, {1: b"x"})
    with pytest.raises(AppletExists):
        install_applet(card, LIBRARY, {1: b"y"})


def test_applets_are_part_of_the_card_state(card: VirtualCard) -> None:
    changes: list[int] = []
    card.on_change = lambda: changes.append(1)
    install_applet(card, LIBRARY, {0x0101: b"kept"}, access="pin", pin="1234", label="図書館")
    assert changes == [1]
    again = load_card(dump_card(card))
    assert applets(again) == applets(card)
    assert applets(again)[0].label == "図書館"
