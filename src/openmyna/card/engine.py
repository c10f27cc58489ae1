"""The virtual My Number Card's ISO/IEC 7816-4 side: APDU dispatch and security state.

``VirtualCard.transmit`` takes a command APDU and returns the response APDU, exactly as a
card in a reader does; it never raises. It answers SELECT (by AID, by file id, back to the
MF), READ BINARY, VERIFY, CHANGE REFERENCE DATA and the JPKI sign command over the card's
file model (``files``: applications, EFs and their access conditions). What the files hold
is the issuer's business (``personalize``, ``free_space``): nothing here writes them except
the PIN counters and values that the commands change.

Security state (the PINs verified in this session) belongs to the selected application: it
is cleared when another application is selected and on ``reset`` (power cycle). PIN retry
counters are persistent: ``on_change`` is called after every change of persistent state,
before the response is returned, so a card file is saved before the caller learns the
outcome of a PIN attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from openmyna.card.apdu import (
    SW,
    APDUFormatError,
    CommandAPDU,
    parse_command,
    respond,
    sw_tries_left,
)
from openmyna.card.files import EF, Application, BinaryEF, FileTree, KeyEF, PinEF
from openmyna.card.tlv import encode_length, split_digest_info, tlv

log = logging.getLogger(__name__)

#: The My Number Card's ATR as OpenSC's JPKI driver matches it (card-jpki.c): T=1,
#: IFSC 254, no historical bytes, TCK 0x14.
MY_NUMBER_CARD_ATR = bytes.fromhex("3BE000FF8131FE4514")

_PKCS1_OVERHEAD = 11

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_COMPUTE_SIGNATURE = 0x2A
CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80


def sign_pkcs1(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 over ``data`` as given (the card pads, it does not hash).

    A DigestInfo of a known hash goes through the library's signer; anything else (e.g. the
    36-byte MD5+SHA-1 of old TLS) is padded here and signed with the raw RSA operation.
    """
    known = split_digest_info(data)
    if known is not None:
        name, digest = known
        algorithm = getattr(hashes, name.upper())()
        return key.sign(digest, padding.PKCS1v15(), Prehashed(algorithm))
    k = (key.key_size + 7) // 8
    encoded = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    numbers = key.private_numbers()
    m = int.from_bytes(encoded, "big")
    s1 = pow(m, numbers.dmp1, numbers.p)
    s2 = pow(m, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    return (s2 + h * numbers.q).to_bytes(k, "big")


class VirtualCard:
    """An emulated My Number Card that answers ISO/IEC 7816-4 APDUs."""

    atr: bytes = MY_NUMBER_CARD_ATR

    def __init__(
        self, card_id: str, applications: list[Application], *, personalized: bool = False
    ) -> None:
        self.card_id = card_id
        #: The applications and their EFs; the issuer's functions add and remove them.
        self.files = FileTree(applications)
        self.personalized = personalized
        #: Called after any change of persistent state (PIN counters, PINs, applets).
        self.on_change: Callable[[], None] | None = None
        self._app: Application | None = None
        self._ef: EF | None = None
        self._verified: set[int] = set()

    # --- the card's surface -----------------------------------------------------------------

    def transmit(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data and ``SW1 SW2``; never raises."""
        try:
            command = parse_command(bytes(apdu))
        except APDUFormatError as exc:
            return respond(exc.sw)
        except TypeError:
            return respond(SW.WRONG_LENGTH)
        try:
            return self._dispatch(command)
        except Exception as exc:  # noqa: BLE001 - a card answers every command with a status
            log.error("card %s: internal error (%s)", self.card_id, type(exc).__name__)
            return respond(SW.NO_PRECISE_DIAGNOSIS)

    def reset(self) -> None:
        """Power cycle: nothing selected, nothing verified; PIN counters are kept."""
        self._app = None
        self._ef = None
        self._verified.clear()

    def changed(self) -> None:
        """Tell the owner (e.g. the card file) that persistent state changed."""
        if self.on_change is not None:
            self.on_change()

    # --- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, c: CommandAPDU) -> bytes:
        if self._app is not None and self.files.application(self._app.aid) is not self._app:
            self.reset()  # the issuer removed the selected application: nothing stays selected
        cla_sw = _check_cla(c.cla)
        if cla_sw is not None:
            return respond(cla_sw)
        if c.cla == CLA_ISO:
            handler = {
                INS_SELECT: self._select,
                INS_READ_BINARY: self._read_binary,
                INS_VERIFY: self._verify,
                INS_CHANGE_REFERENCE_DATA: self._change_reference_data,
            }.get(c.ins)
        else:
            handler = {INS_COMPUTE_SIGNATURE: self._compute_signature}.get(c.ins)
        if handler is None:
            return respond(SW.INS_NOT_SUPPORTED)
        return handler(c)

    def _select(self, c: CommandAPDU) -> bytes:
        if c.p2 not in (0x00, 0x04, 0x0C):
            return respond(SW.WRONG_P1P2)
        if c.p1 == 0x04:
            return self._select_application(c)
        if c.p1 in (0x00, 0x02):
            return self._select_file(c)
        return respond(SW.WRONG_P1P2)

    def _select_application(self, c: CommandAPDU) -> bytes:
        if not c.data:  # no DF name: back to the MF
            self.reset()
            return respond(SW.OK)
        if len(c.data) > 16:
            return respond(SW.WRONG_LENGTH)
        app = self.files.application(c.data)
        if app is None:
            return respond(SW.FILE_NOT_FOUND)
        if app is not self._app:
            self._verified.clear()  # security status belongs to the application
        self._app = app
        self._ef = None
        if c.p2 == 0x0C:
            return respond(SW.OK)
        return respond(SW.OK, tlv(0x6F, tlv(0x84, app.aid)))

    def _select_file(self, c: CommandAPDU) -> bytes:
        if c.p1 == 0x00 and c.data in (b"", b"\x3f\x00"):
            self.reset()
            return respond(SW.OK)
        if len(c.data) != 2:
            return respond(SW.WRONG_LENGTH)
        fid = int.from_bytes(c.data, "big")
        ef = self._app.files.get(fid) if self._app is not None else None
        if ef is None:
            return respond(SW.FILE_NOT_FOUND)
        self._ef = ef
        if c.p2 == 0x0C:
            return respond(SW.OK)
        body = tlv(0x83, c.data)
        if isinstance(ef, BinaryEF):
            body = tlv(0x80, len(ef.data).to_bytes(2, "big")) + tlv(0x82, b"\x01") + body
        return respond(SW.OK, b"\x62" + encode_length(len(body)) + body)

    def _read_binary(self, c: CommandAPDU) -> bytes:
        if c.data or c.ne is None:
            return respond(SW.WRONG_LENGTH)
        if c.p1 & 0x80:  # short EF identifier in P1 b5-b1, offset in P2 (ISO 7816-4 §11.3.3)
            if c.p1 & 0x60 or self._app is None:
                return respond(SW.WRONG_P1P2)
            if not self._app.accepts_short_ids:
                return respond(SW.WRONG_P1P2)
            by_sfi = self._app.short_ef(c.p1 & 0x1F)
            if by_sfi is None:
                return respond(SW.FILE_NOT_FOUND)
            self._ef = by_sfi  # the EF read by its short id becomes the current EF
            offset = c.p2
        else:
            offset = (c.p1 << 8) | c.p2
        ef = self._ef
        if ef is None:
            return respond(SW.NO_CURRENT_EF)
        if not isinstance(ef, BinaryEF):
            return respond(SW.INCOMPATIBLE_FILE)
        if ef.read_pin is not None and ef.read_pin not in self._verified:
            return respond(SW.SECURITY_NOT_SATISFIED)
        if offset > len(ef.data):
            return respond(SW.WRONG_OFFSET)
        # An Le past the end gets what is left with 90 00, as the real card answers: its
        # readers ask EF 0001 with Le = 17 and certificates in fixed chunks and accept only
        # 90 00 (jpki/myna _go/libmyna/reader.go ReadBinary, src/reader.rs read_binary;
        # TRETJapanNFCReader IndividualNumberReaderReadFunctions.swift; lanesky/mnbcard).
        return respond(SW.OK, ef.data[offset : offset + c.ne])

    def _current_pin(self) -> PinEF | int:
        ef = self._ef
        if ef is None:
            return SW.NO_CURRENT_EF
        if not isinstance(ef, PinEF):
            return SW.INCOMPATIBLE_FILE
        return ef

    def _verify(self, c: CommandAPDU) -> bytes:
        if c.p1 != 0x00 or not 0x80 <= c.p2 <= 0x80 + 0x1E:
            return respond(SW.WRONG_P1P2)
        if c.p2 == 0x80:  # the selected PIN EF
            current = self._current_pin()
        else:  # P2 = 80 | short EF id of the PIN EF, where the application allows it
            by_sfi = self._app.short_ef(c.p2 & 0x1F) if self._app is not None else None
            if not isinstance(by_sfi, PinEF):
                return respond(SW.WRONG_P1P2)
            current = by_sfi
        if isinstance(current, int):
            return respond(current)
        pin = current.pin
        if not c.data:  # a status query: the counter, also when it is at 0
            return respond(sw_tries_left(pin.tries_left))
        if pin.blocked:
            return respond(SW.AUTH_METHOD_BLOCKED)
        if pin.matches(c.data):
            if pin.tries_left != pin.max_tries:
                pin.tries_left = pin.max_tries
                self.changed()
            self._verified.add(current.fid)
            return respond(SW.OK)
        pin.tries_left -= 1
        self._verified.discard(current.fid)
        self.changed()  # saved before the holder learns the outcome
        return respond(sw_tries_left(pin.tries_left))

    def _change_reference_data(self, c: CommandAPDU) -> bytes:
        if c.p1 != 0x01 or c.p2 != 0x80:
            return respond(SW.WRONG_P1P2)
        current = self._current_pin()
        if isinstance(current, int):
            return respond(current)
        if not c.data:
            return respond(SW.WRONG_LENGTH)
        pin = current.pin
        if pin.blocked:
            return respond(SW.AUTH_METHOD_BLOCKED)
        if current.fid not in self._verified:
            return respond(SW.SECURITY_NOT_SATISFIED)
        if not pin.rule.changeable:
            return respond(SW.CONDITIONS_NOT_SATISFIED)
        try:
            value = c.data.decode("ascii")
        except UnicodeDecodeError:
            return respond(SW.WRONG_DATA)
        if not pin.rule.allows(value):
            return respond(SW.WRONG_DATA)
        pin.set_value(value)
        self.changed()
        return respond(SW.OK)

    def _compute_signature(self, c: CommandAPDU) -> bytes:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return respond(SW.WRONG_P1P2)
        ef = self._ef
        if not isinstance(ef, KeyEF):
            return respond(SW.NO_CURRENT_EF)
        if ef.pin_fid not in self._verified:
            return respond(SW.SECURITY_NOT_SATISFIED)
        k = (ef.key.key_size + 7) // 8
        if not c.data or c.ne is None or c.ne < k:
            return respond(SW.WRONG_LENGTH)
        if len(c.data) > k - _PKCS1_OVERHEAD:
            return respond(SW.WRONG_DATA)
        return respond(SW.OK, sign_pkcs1(ef.key, c.data))


def _check_cla(cla: int) -> SW | None:
    """None for the two classes this card speaks (00, 80), else the status to answer."""
    if cla in (CLA_ISO, CLA_PROPRIETARY):
        return None
    if cla & 0x60 == 0x00 and cla != 0xFF:  # 0x00-0x1F and 0x80-0x9F: first layout
        if cla & 0x10:
            return SW.CHAINING_NOT_SUPPORTED
        if cla & 0x0C:
            return SW.SECURE_MESSAGING_NOT_SUPPORTED
        return SW.LOGICAL_CHANNEL_NOT_SUPPORTED
    if 0x40 <= cla <= 0x7F:  # further interindustry class: logical channels 4-19
        if cla & 0x20:
            return SW.SECURE_MESSAGING_NOT_SUPPORTED
        if cla & 0x10:
            return SW.CHAINING_NOT_SUPPORTED
        return SW.LOGICAL_CHANNEL_NOT_SUPPORTED
    return SW.CLA_NOT_SUPPORTED
