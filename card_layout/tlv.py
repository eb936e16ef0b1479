"""The compact, canonical TLV codec of the RP1 card format.

One TLV = tag (1 byte, 0x01..0xFE) | length | value. Length is one byte 0x00..0x7F for values
up to 127 bytes, or 0x81 LL for 128..255 bytes; any other form (0x81 with LL < 0x80, 0x80,
0x82.., longer values) is refused. A record is a run of TLVs in strictly increasing tag order,
each tag at most once; optional fields are omitted, never encoded empty. Fixed-size integers
are big-endian unsigned; dates are 4 bytes packed BCD YYYYMMDD.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from .errors import FormatError

logger = logging.getLogger(__name__)

MAX_VALUE_LEN = 255
LONG_FORM = 0x81


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes


def encode_length(n: int) -> bytes:
    if n < 0 or n > MAX_VALUE_LEN:
        raise ValueError(f"TLV value length {n} is outside 0..{MAX_VALUE_LEN}")
    return bytes([n]) if n < 0x80 else bytes([LONG_FORM, n])


def encode_tlv(tag: int, value: bytes) -> bytes:
    if not 0x01 <= tag <= 0xFE:
        raise ValueError(f"TLV tag {tag:#x} is outside 0x01..0xFE")
    return bytes([tag]) + encode_length(len(value)) + value


def encode_tlvs(items: Iterable[Tlv]) -> bytes:
    return b"".join(encode_tlv(item.tag, item.value) for item in items)


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    """(value length, position after the length field)."""
    if pos >= len(data):
        raise FormatError("truncated", f"TLV length missing at offset {pos}")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    if first != LONG_FORM:
        raise FormatError("bad_length", f"length byte {first:#04x} at offset {pos} is not allowed")
    if pos + 1 >= len(data):
        raise FormatError("truncated", f"TLV long length cut at offset {pos}")
    n = data[pos + 1]
    if n < 0x80:
        raise FormatError("bad_length", f"non-minimal length 81 {n:02X} at offset {pos}")
    return n, pos + 2


def parse_tlvs(data: bytes) -> list[Tlv]:
    """Split ``data`` into TLVs; every byte must belong to one (FormatError otherwise)."""
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        if tag in (0x00, 0xFF):
            raise FormatError("bad_tag", f"tag {tag:#04x} at offset {pos} is reserved")
        length, pos = _read_length(data, pos + 1)
        if pos + length > len(data):
            raise FormatError("truncated", f"tag {tag:#04x} value runs past the end")
        items.append(Tlv(tag, bytes(data[pos : pos + length])))
        pos += length
    return items


def canonical_fields(
    items: Sequence[Tlv], required: Iterable[int], optional: Iterable[int] = ()
) -> dict[int, bytes]:
    """The values by tag, refusing unknown, duplicate, out-of-order and missing tags."""
    required = frozenset(required)
    known = required | frozenset(optional)
    fields: dict[int, bytes] = {}
    previous = 0
    for item in items:
        if item.tag not in known:
            raise FormatError("bad_tag", f"unknown tag {item.tag:#04x}")
        if item.tag in fields:
            raise FormatError("duplicate_tag", f"tag {item.tag:#04x} occurs twice")
        if item.tag < previous:
            raise FormatError("bad_tag", f"tag {item.tag:#04x} is out of order")
        fields[item.tag] = item.value
        previous = item.tag
    missing = sorted(required - fields.keys())
    if missing:
        raise FormatError("missing_field", f"missing tag {missing[0]:#04x}")
    return fields


# --- value encodings ---------------------------------------------------------------------


def encode_uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def decode_uint(value: bytes, size: int, what: str) -> int:
    if len(value) != size:
        raise FormatError("bad_value", f"{what} must be {size} bytes, got {len(value)}")
    return int.from_bytes(value, "big")


def encode_date(day: date) -> bytes:
    """4 bytes packed BCD YYYYMMDD (2026-08-31 -> 20 26 08 31)."""
    return bytes.fromhex(f"{day.year:04d}{day.month:02d}{day.day:02d}")


def decode_date(value: bytes, what: str) -> date:
    if len(value) != 4:
        raise FormatError("bad_value", f"{what} must be 4 bytes of BCD, got {len(value)}")
    digits = value.hex()
    if not digits.isdigit():
        raise FormatError("bad_value", f"{what} {digits} is not packed BCD")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise FormatError("bad_value", f"{what} {digits} is not a calendar date") from None


def encode_text(text: str) -> bytes:
    return text.encode("utf-8")


def decode_text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise FormatError("bad_value", f"{what} is not valid UTF-8") from None


def decode_ascii(value: bytes, what: str) -> str:
    if not value.isascii():
        raise FormatError("bad_value", f"{what} is not ASCII")
    return value.decode("ascii")
