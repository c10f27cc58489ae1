"""Placeholder images for the 券面AP, written as PNG in pure Python.

The real card holds the holder's photograph and pictures of the printed name, address and
number. openmyna has no photographs and draws no text: the face is a generated silhouette on
a background coloured from a seed (the card id), and the text pictures are grey bars whose
length follows the text length. None of them carries personal data.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

FACE_WIDTH = 96
FACE_HEIGHT = 128


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from ``height`` rows of ``3 * width`` bytes."""
    if len(rows) != height or any(len(r) != 3 * width for r in rows):
        raise ValueError("rows do not match the size")
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (raises ``ValueError`` if it is not one)."""
    if len(data) < 24 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def face_placeholder(seed: bytes) -> bytes:
    """A 96×128 head-and-shoulders silhouette on a background coloured by ``seed``."""
    h = hashlib.sha256(seed).digest()
    background = bytes((160 + h[0] % 80, 160 + h[1] % 80, 160 + h[2] % 80))
    figure = bytes((60 + h[3] % 40, 60 + h[4] % 40, 70 + h[5] % 40))
    cx, cy, rx, ry = FACE_WIDTH / 2, 48.0, 22.0, 28.0
    rows = []
    for y in range(FACE_HEIGHT):
        row = bytearray()
        for x in range(FACE_WIDTH):
            in_head = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
            shoulders_y = 88 + 0.02 * (x - cx) ** 2
            row += figure if in_head or y >= shoulders_y else background
        rows.append(bytes(row))
    return png(FACE_WIDTH, FACE_HEIGHT, rows)


def text_placeholder(length: int, *, width: int = 256, height: int = 24) -> bytes:
    """A grey bar on white standing in for a picture of ``length`` printed characters."""
    bar = min(width - 8, 4 + 12 * max(length, 0))
    white, grey = b"\xff\xff\xff", b"\x80\x80\x80"
    inked = (white * 4 + grey * (bar - 4) + white * (width - bar)) if bar > 4 else white * width
    rows = [inked if 6 <= y < height - 6 else white * width for y in range(height)]
    return png(width, height, rows)
