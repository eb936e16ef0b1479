"""The frame around each file's content, so that a torn or truncated write is detected.

    magic (2) | version (1) | total length (2, big-endian) | body | CRC-32 (4, big-endian)

The total length counts the whole frame (header, body and CRC). The CRC is zlib's CRC-32
(ISO-HDLC) over header and body. Bytes after the total length are ignored (stale content of a
longer earlier frame). A file that is empty or holds only 0x00 or only 0xFF bytes is "empty".
"""

from __future__ import annotations

import logging
import zlib

from .errors import FormatError
from .files import CAPACITY, SLOTS, Fid

logger = logging.getLogger(__name__)

VERSION = 1
#: EF.ID may also carry format version 2 (photo hash, chip key; docs/card-format.md).
VERSION_2 = 2
HEADER_LEN = 5
CRC_LEN = 4
OVERHEAD = HEADER_LEN + CRC_LEN
#: The smallest capacity of the framed files (EF.ID, EF.RES_A, EF.RES_B): 512 bytes.
MAX_FRAME_LEN = min(CAPACITY[fid] for fid in (Fid.ID, *SLOTS))


def encode_frame(magic: bytes, body: bytes, version: int = VERSION) -> bytes:
    total = OVERHEAD + len(body)
    if total > MAX_FRAME_LEN:
        raise ValueError(f"frame of {total} bytes exceeds {MAX_FRAME_LEN}")
    head = magic + bytes([version]) + total.to_bytes(2, "big")
    content = head + body
    return content + zlib.crc32(content).to_bytes(CRC_LEN, "big")


def is_empty(data: bytes) -> bool:
    return not data or data.count(0) == len(data) or data.count(0xFF) == len(data)


def decode_frame(magic: bytes, data: bytes) -> bytes:
    """The body of the version-1 frame at the start of ``data`` (FormatError if there is none)."""
    return decode_versioned_frame(magic, data, (VERSION,))[1]


def decode_versioned_frame(magic: bytes, data: bytes,
                           versions: tuple[int, ...]) -> tuple[int, bytes]:
    """(version, body) of the frame at the start of ``data``; the version must be in
    ``versions`` (else ``bad_version``)."""
    data = bytes(data)
    if is_empty(data):
        raise FormatError("empty", "the file is empty (no content written)")
    if len(data) < HEADER_LEN:
        raise FormatError("truncated", f"only {len(data)} bytes, the header needs {HEADER_LEN}")
    if data[:2] != magic:
        raise FormatError("bad_magic", f"magic {data[:2].hex()} is not {magic.hex()}")
    if data[2] not in versions:
        raise FormatError("bad_version", f"format version {data[2]} is not one of {versions}")
    total = int.from_bytes(data[3:5], "big")
    if not OVERHEAD <= total <= MAX_FRAME_LEN:
        raise FormatError(
            "bad_length", f"frame length {total} is outside {OVERHEAD}..{MAX_FRAME_LEN}"
        )
    if len(data) < total:
        raise FormatError("truncated", f"frame says {total} bytes, only {len(data)} present")
    content, crc = data[: total - CRC_LEN], data[total - CRC_LEN : total]
    if zlib.crc32(content).to_bytes(CRC_LEN, "big") != crc:
        raise FormatError("bad_crc", "CRC-32 mismatch (torn or corrupted write)")
    return data[2], content[HEADER_LEN:]
