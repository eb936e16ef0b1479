"""The holder's photo (EF.PHOTO): a baseline or progressive JPEG of at most 4096 bytes.

:func:`validate_photo` is the one check every intake uses (API, CLI, the workflow's application
intake): size, JPEG structure (SOI, a frame header, EOI) and dimensions. The photo's SHA-256 is
bound into the signed identity (tag 0x06, format version 2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass

from .errors import FieldError
from .files import CAPACITY, Fid

logger = logging.getLogger(__name__)

MAX_BYTES = CAPACITY[Fid.PHOTO]
#: Accepted pixel sizes (a 102 x 126 face image is the usual card photo).
MIN_WIDTH, MAX_WIDTH = 60, 480
MIN_HEIGHT, MAX_HEIGHT = 75, 640
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True)
class PhotoInfo:
    width: int
    height: int
    size: int
    sha256: bytes


def validate_photo(data: bytes, field: str = "photo") -> PhotoInfo:
    """The photo's size and SHA-256, or FieldError naming ``field`` (``empty``, ``too_long``,
    ``bad_format`` or ``out_of_range``)."""
    if not isinstance(data, bytes | bytearray):
        raise FieldError(field, "bad_format", f"{field} must be bytes")
    data = bytes(data)
    if not data:
        raise FieldError(field, "empty", f"{field} is empty")
    if len(data) > MAX_BYTES:
        raise FieldError(field, "too_long",
                         f"{field} is {len(data)} bytes; the card holds at most {MAX_BYTES}")
    width, height = _jpeg_size(data, field)
    if not (MIN_WIDTH <= width <= MAX_WIDTH and MIN_HEIGHT <= height <= MAX_HEIGHT):
        raise FieldError(field, "out_of_range",
                         f"{field} is {width}x{height} px; allowed {MIN_WIDTH}..{MAX_WIDTH} x "
                         f"{MIN_HEIGHT}..{MAX_HEIGHT}")
    return PhotoInfo(width, height, len(data), hashlib.sha256(data).digest())


def decode_photo_base64(text: object, field: str = "photo") -> bytes:
    """The bytes of a base64 (RFC 4648, standard alphabet, padded) photo from JSON."""
    if not isinstance(text, str):
        raise FieldError(field, "bad_format", f"{field} must be a base64 string")
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise FieldError(field, "bad_format", f"{field} is not valid base64") from None


def _jpeg_size(data: bytes, field: str) -> tuple[int, int]:
    """(width, height) from the first SOFn segment; the data must start with SOI and end with
    EOI, and every segment up to the frame header must be well formed."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        raise FieldError(field, "bad_format", f"{field} is not a JPEG (SOI/EOI missing)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            break
        if marker in _SOF:
            if length < 7:
                break
            height = int.from_bytes(data[pos + 5:pos + 7], "big")
            width = int.from_bytes(data[pos + 7:pos + 9], "big")
            return width, height
        if marker in (0xD9, 0xDA):
            break
        pos += 2 + length
    raise FieldError(field, "bad_format", f"{field} is not a JPEG with a frame header")
