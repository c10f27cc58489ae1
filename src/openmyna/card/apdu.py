"""ISO/IEC 7816-4 APDUs: command parsing and encoding (short and extended), status words.

A command APDU is ``CLA INS P1 P2`` followed by an optional body. The body's shape gives
the command's *case* (ISO/IEC 7816-3 §12.1):

| case | body | meaning |
|---|---|---|
| 1 | — | no data, no response data |
| 2S / 2E | ``Le`` / ``00 Le1 Le2`` | response data expected |
| 3S / 3E | ``Lc data`` / ``00 Lc1 Lc2 data`` | command data |
| 4S / 4E | ``Lc data Le`` / ``00 Lc1 Lc2 data Le1 Le2`` | both |

``Le = 00`` (short) means up to 256 bytes and ``Le = 00 00`` (extended) up to 65536: "as
much as there is". Everything that does not fit one of these shapes is a wrong length
(``67 00``). The card answers with response data followed by ``SW1 SW2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

SHORT_MAX_NE = 256
EXTENDED_MAX_NE = 65536
SHORT_MAX_NC = 255
EXTENDED_MAX_NC = 65535


class SW(IntEnum):
    """The status words this card uses (ISO/IEC 7816-4 §5.6)."""

    OK = 0x9000
    #: Warning: end of file reached before reading Ne bytes.
    END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    CHAINING_NOT_SUPPORTED = 0x6884
    #: Command incompatible with the file structure (e.g. READ BINARY on a key EF).
    INCOMPATIBLE_FILE = 0x6981
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    WRONG_P1P2 = 0x6A86
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


def sw_tries_left(tries: int) -> int:
    """``63 Cx``: verification failed or queried, ``x`` tries left (0–15)."""
    return 0x63C0 | max(0, min(tries, 15))


def is_tries_left(sw: int) -> bool:
    """Whether ``sw`` is a ``63 Cx`` counter status word."""
    return sw & 0xFFF0 == 0x63C0


class APDUFormatError(ValueError):
    """A byte string that is no well-formed command APDU; ``sw`` is the status to answer."""

    def __init__(self, sw: SW, message: str) -> None:
        super().__init__(message)
        self.sw = sw


@dataclass(frozen=True)
class CommandAPDU:
    """A parsed command APDU.

    ``ne`` is the maximum number of response bytes expected: ``None`` without an ``Le``
    field, else 1–65536 (``Le = 00`` decodes to 256, ``00 00`` to 65536).
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool = False

    @property
    def case(self) -> int:
        """ISO/IEC 7816-3 case: 1 (nothing), 2 (Le), 3 (data), 4 (data and Le)."""
        if self.data:
            return 4 if self.ne is not None else 3
        return 2 if self.ne is not None else 1

    def encode(self) -> bytes:
        """The APDU as bytes (short if the lengths allow it and ``extended`` is false)."""
        return encode_command(
            self.cla, self.ins, self.p1, self.p2, self.data, self.ne, extended=self.extended
        )


def parse_command(raw: bytes) -> CommandAPDU:
    """Parse a command APDU; raise ``APDUFormatError`` (with ``67 00``) if it is malformed."""
    n = len(raw)
    if n < 4:
        raise APDUFormatError(SW.WRONG_LENGTH, "a command APDU has at least 4 bytes")
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    if n == 4:  # case 1
        return CommandAPDU(cla, ins, p1, p2)
    b0 = raw[4]
    if n == 5:  # case 2S
        return CommandAPDU(cla, ins, p1, p2, ne=b0 or SHORT_MAX_NE)
    if b0 != 0:  # short Lc
        if n == 5 + b0:  # case 3S
            return CommandAPDU(cla, ins, p1, p2, bytes(raw[5:]))
        if n == 6 + b0:  # case 4S
            return CommandAPDU(cla, ins, p1, p2, bytes(raw[5:-1]), raw[-1] or SHORT_MAX_NE)
        raise APDUFormatError(SW.WRONG_LENGTH, "the body does not match Lc")
    # b0 == 00 and more than 5 bytes: extended lengths
    if n < 7:
        raise APDUFormatError(SW.WRONG_LENGTH, "an extended length field has 3 bytes")
    value = int.from_bytes(raw[5:7], "big")
    if n == 7:  # case 2E
        return CommandAPDU(cla, ins, p1, p2, ne=value or EXTENDED_MAX_NE, extended=True)
    if value == 0:
        raise APDUFormatError(SW.WRONG_LENGTH, "an extended Lc of 0 is not allowed")
    if n == 7 + value:  # case 3E
        return CommandAPDU(cla, ins, p1, p2, bytes(raw[7:]), extended=True)
    if n == 9 + value:  # case 4E
        le = int.from_bytes(raw[-2:], "big")
        return CommandAPDU(cla, ins, p1, p2, bytes(raw[7:-2]), le or EXTENDED_MAX_NE, extended=True)
    raise APDUFormatError(SW.WRONG_LENGTH, "the body does not match the extended Lc")


def encode_command(
    cla: int,
    ins: int,
    p1: int,
    p2: int,
    data: bytes = b"",
    ne: int | None = None,
    *,
    extended: bool = False,
) -> bytes:
    """Encode a command APDU, switching to extended lengths when the sizes need it."""
    for name, value in (("CLA", cla), ("INS", ins), ("P1", p1), ("P2", p2)):
        if not 0 <= value <= 0xFF:
            raise ValueError(f"{name} must be one byte")
    if len(data) > EXTENDED_MAX_NC:
        raise ValueError("command data holds at most 65535 bytes")
    if ne is not None and not 1 <= ne <= EXTENDED_MAX_NE:
        raise ValueError("Ne must be 1-65536")
    ext = extended or len(data) > SHORT_MAX_NC or (ne is not None and ne > SHORT_MAX_NE)
    out = bytearray((cla, ins, p1, p2))
    if ext:
        if data:
            out += b"\x00" + len(data).to_bytes(2, "big") + data
        if ne is not None:
            le = (ne % EXTENDED_MAX_NE).to_bytes(2, "big")
            out += le if data else b"\x00" + le
    else:
        if data:
            out += bytes((len(data),)) + data
        if ne is not None:
            out.append(ne % SHORT_MAX_NE)
    return bytes(out)


@dataclass(frozen=True)
class ResponseAPDU:
    """A response APDU: data and the status word."""

    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        """The first status byte."""
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        """The second status byte."""
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        """Whether the status is ``90 00``."""
        return self.sw == SW.OK

    def encode(self) -> bytes:
        """Data followed by SW1 SW2."""
        return self.data + self.sw.to_bytes(2, "big")


def parse_response(raw: bytes) -> ResponseAPDU:
    """Split a response APDU into data and status word."""
    if len(raw) < 2:
        raise ValueError("a response APDU has at least the 2 status bytes")
    return ResponseAPDU(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def respond(sw: int, data: bytes = b"") -> bytes:
    """A response APDU as bytes."""
    return data + sw.to_bytes(2, "big")


def sw_hex(sw: int) -> str:
    """A status word written the usual way, e.g. ``6A 82``."""
    return f"{sw >> 8:02X} {sw & 0xFF:02X}"
