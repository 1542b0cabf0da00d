"""Tiny stdlib image helpers: sizes of JPEG/PNG bytes, and a PNG encoder."""

from __future__ import annotations

import base64
import struct
import zlib

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# SOFn markers carry the frame size; C4 (DHT), C8 (JPG), CC (DAC) are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOF segment of a JPEG."""
    if not data.startswith(JPEG_MAGIC):
        raise ValueError(f"not a JPEG: {data[:8]!r}")
    i = 2
    n = len(data)
    while i < n:
        if data[i] != 0xFF:
            raise ValueError(f"bad JPEG marker at {i}")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        marker = data[i]
        i += 1
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if marker == 0xD9 or marker == 0xDA:
            break
        (length,) = struct.unpack(">H", data[i:i + 2])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[i + 3:i + 7])
            return width, height
        i += length
    raise ValueError("no SOF segment in JPEG")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR."""
    if not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        raise ValueError(f"not a PNG: {data[:16]!r}")
    return struct.unpack(">II", data[16:24])


def image_size(data: bytes) -> tuple[int, int]:
    return jpeg_size(data) if data.startswith(JPEG_MAGIC) else png_size(data)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def make_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 60, 30)) -> bytes:
    """A valid 8-bit RGB PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_MAGIC + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def corrupt_png(width: int = 64, height: int = 64) -> bytes:
    """A PNG signature and a valid IHDR, then an IDAT of garbage (valid CRC,
    undecodable zlib) and no IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    garbage = bytes((i * 37 + 11) % 256 for i in range(300))
    return PNG_MAGIC + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", garbage)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()
