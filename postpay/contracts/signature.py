"""The hand-written signature (R7): a real PNG, at most 200 KB and 4 megapixels, with ink on it.

Decoded with Pillow. The dimensions are read from the header (``Image.open`` is lazy)
and checked before a single pixel is inflated, so a decompression bomb costs nothing;
then every chunk's CRC is verified and the pixels decoded. A signature with fewer than
0.5% of its pixels clearly darker than the background is blank and refused.
"""

import io
import warnings

from PIL import Image

from postpay.errors import Invalid

MAX_BYTES = 200 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096
MAX_PIXELS = 4_000_000
#: A pixel is ink when its luminance is this much below the background's.
INK_CONTRAST = 64
#: The share of ink pixels below which a signature is blank.
MIN_INK = 0.005
_MAGIC = b"\x89PNG\r\n\x1a\n"


def _broken():
    return Invalid("签名图片已损坏", code="INVALID_SIGNATURE")


def _open(data):
    with warnings.catch_warnings():  # our own size check below comes first, and is stricter
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=["PNG"])


def check_png(data):
    """Return ``(width, height)`` of a usable signature image.

    Raises Invalid: INVALID_SIGNATURE (not a PNG, broken, too small, over 200 KB),
    SIGNATURE_TOO_LARGE (over 4 megapixels or 4096 pixels a side), SIGNATURE_BLANK.
    """
    if len(data) > MAX_BYTES:
        raise Invalid("签名图片不能超过200KB", code="INVALID_SIGNATURE")
    if not data.startswith(_MAGIC):
        raise Invalid("签名图片须为PNG格式", code="INVALID_SIGNATURE")
    too_large = Invalid("签名图片尺寸过大（最多400万像素）", code="SIGNATURE_TOO_LARGE")
    try:
        image = _open(data)  # reads the header only
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours
        raise too_large from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _broken() from None
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise too_large
    if width < MIN_SIDE or height < MIN_SIDE:
        raise Invalid("签名图片尺寸过小", code="INVALID_SIGNATURE")
    try:
        image.verify()  # every chunk's CRC, up to IEND; the image must be opened again after it
        image = _open(data)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _broken() from None
    if ink_share(image) < MIN_INK:
        raise Invalid("签名为空白，请重新签名", code="SIGNATURE_BLANK")
    return width, height


def ink_share(image):
    """The share of pixels at least INK_CONTRAST darker than the background (the commonest
    luminance); transparent pixels count as white paper."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    histogram = image.convert("L").histogram()
    background = max(range(256), key=histogram.__getitem__)
    ink = sum(histogram[: max(0, background - INK_CONTRAST + 1)])
    return ink / (image.width * image.height)
