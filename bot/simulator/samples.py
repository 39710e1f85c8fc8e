"""Small valid images for tests and the simulator's photo sizes."""

import struct
import zlib
from functools import lru_cache


@lru_cache(maxsize=64)  # photo sizes repeat; bytes are immutable, so sharing them is safe
def png(width: int, height: int, shade: int = 128) -> bytes:
    """A valid grey PNG of `width` x `height` pixels (compressed, so large ones stay small)."""
    if width < 1 or height < 1:
        raise ValueError("an image has at least one pixel each way")
    row = b"\x00" + bytes([shade & 0xFF]) * width  # filter byte 0, then 8-bit grey pixels
    pixels = zlib.compress(row * height, 1)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
