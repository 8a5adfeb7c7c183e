"""PNG files for the signature tests: drawn with Pillow, or put together chunk by chunk
when a test needs a file no encoder would write."""

import io
import struct
import zlib

from PIL import Image, ImageDraw

MODES = {0: "L", 2: "RGB", 6: "RGBA"}


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width=400, height=200, ink=True, colour=6, transparent=False):
    """A signature: a few dark pen strokes (several percent of the pixels) on white paper, or
    with ``ink=False`` blank paper; ``transparent`` paper as a canvas pad may send it."""
    mode = MODES[colour]
    paper = (255, 255, 255, 0) if transparent else (255, 255, 255, 255)
    image = Image.new(mode, (width, height), paper[: len(mode)] if mode != "L" else 255)
    if ink:
        pen = ImageDraw.Draw(image)
        dark = (17, 17, 17, 255)[: len(mode)] if mode != "L" else 17
        points = [(width * (i + 1) // 12, height // 2 + (height // 4) * (-1) ** i) for i in range(10)]
        pen.line(points, fill=dark, width=max(3, height // 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def faint(width=400, height=200, dots=100):
    """Paper with a few dark specks: under 0.5% of the pixels, so blank."""
    image = Image.new("L", (width, height), 255)
    for n in range(dots):
        image.putpixel(((n * 37) % width, (n * 53) % height), 0)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def bomb(width, height, idat=None):
    """A PNG whose header promises ``width`` x ``height`` 1-bit pixels; the image data is
    ``idat`` (default: garbage, so decoding it would fail): only a header check refuses it
    as too large."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
