"""Make PNG files for the signature tests (no imaging library needed)."""

import struct
import zlib


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width=400, height=200, ink=True, colour=6):
    channels = {0: 1, 2: 3, 6: 4}[colour]
    rows = []
    for y in range(height):
        line = bytearray(b"\xff" * width * channels)
        if ink and y == height // 2:
            line[: width * channels // 2] = b"\x00" * (width * channels // 2)
        rows.append(b"\x00" + bytes(line))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
