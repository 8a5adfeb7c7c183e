"""The hand-written signature (R7): a real PNG, at most 200 KB, of sane dimensions.

Checked without an imaging library: the PNG signature, every chunk's CRC, IHDR
first and IEND last, and the image data inflating to exactly the size IHDR
promises, so a renamed file or a truncated upload is refused.
"""

import struct
import zlib

MAX_BYTES = 200 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096
MAX_PIXELS = 4096 * 2048
_MAGIC = b"\x89PNG\r\n\x1a\n"
#: colour type -> channels
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def check_png(data):
    """Return ``(width, height)`` of a valid signature image. Raises ValueError with a Chinese reason."""
    if len(data) > MAX_BYTES:
        raise ValueError("签名图片不能超过200KB")
    if not data.startswith(_MAGIC):
        raise ValueError("签名图片须为PNG格式")
    pos, chunks, idat = len(_MAGIC), [], []
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("签名图片已损坏")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ValueError("签名图片已损坏")
        chunks.append((kind, body))
        if kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND" or pos != len(data) or not idat:
        raise ValueError("签名图片已损坏")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise ValueError("签名图片尺寸不合适")
    if colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16) or interlace != 0:
        raise ValueError("签名图片格式不支持")
    row = (width * _CHANNELS[colour] * depth + 7) // 8 + 1
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(b"".join(idat), row * height + 1)
    except zlib.error:
        raise ValueError("签名图片已损坏") from None
    if len(raw) != row * height or not inflater.eof:
        raise ValueError("签名图片已损坏")
    return width, height
