"""Hex vectors for the TLV codec, the value encodings and the file frame."""

from __future__ import annotations

import pickle
from datetime import date

import pytest

from card_layout.errors import FieldError, FormatError
from card_layout.frame import MAX_FRAME_LEN, decode_frame, encode_frame
from card_layout.tlv import (
    Tlv,
    canonical_fields,
    decode_date,
    decode_text,
    decode_uint,
    encode_date,
    encode_tlv,
    parse_tlvs,
)


@pytest.mark.parametrize(
    ("tag", "value", "expected"),
    [
        (0x01, b"", "0100"),
        (0x02, b"\x01", "020101"),
        (0x15, b"A" * 127, "157F" + "41" * 127),
        (0x15, b"A" * 128, "158180" + "41" * 128),
        (0x05, b"B" * 140, "05818C" + "42" * 140),
        (0x16, b"C" * 255, "1681FF" + "43" * 255),
    ],
)
def test_encode_tlv_vectors(tag: int, value: bytes, expected: str) -> None:
    encoded = encode_tlv(tag, value)
    assert encoded == bytes.fromhex(expected)
    assert parse_tlvs(encoded) == [Tlv(tag, value)]


@pytest.mark.parametrize(("tag", "length"), [(0x00, 1), (0xFF, 1), (0x01, 256), (0x01, 300)])
def test_encode_tlv_refuses_reserved_tags_and_oversize(tag: int, length: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        encode_tlv(tag, b"x" * length)


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        ("01", "truncated"),  # tag without length
        ("0102AA", "truncated"),  # value shorter than length
        ("0181", "truncated"),  # long form cut
        ("01817F" + "00" * 127, "bad_length"),  # non-minimal long form
        ("018000", "bad_length"),  # indefinite form
        ("0182000100", "bad_length"),  # two-byte length form
        ("0001AA", "bad_tag"),  # reserved tag 00
        ("FF01AA", "bad_tag"),  # reserved tag FF
    ],
)
def test_parse_tlvs_rejects(hex_data: str, reason: str) -> None:
    with pytest.raises(FormatError) as err:
        parse_tlvs(bytes.fromhex(hex_data))
    assert err.value.reason == reason


def test_parse_tlvs_sequence() -> None:
    assert parse_tlvs(bytes.fromhex("0101AA0200030281FF")) == [
        Tlv(1, b"\xaa"),
        Tlv(2, b""),
        Tlv(3, b"\x81\xff"),
    ]


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        ("0101AA0101BB0201CC", "duplicate_tag"),
        ("0201CC0101AA", "bad_tag"),  # out of order
        ("0101AA", "missing_field"),
        ("0101AA0201CC0901DD", "bad_tag"),  # unknown tag
    ],
)
def test_canonical_fields_rejects(hex_data: str, reason: str) -> None:
    with pytest.raises(FormatError) as err:
        canonical_fields(parse_tlvs(bytes.fromhex(hex_data)), (1, 2), (3,))
    assert err.value.reason == reason


def test_canonical_fields_accepts_optional_omitted_and_present() -> None:
    assert canonical_fields(parse_tlvs(bytes.fromhex("0101AA0201BB")), (1, 2), (3,)) == {
        1: b"\xaa",
        2: b"\xbb",
    }
    items = parse_tlvs(bytes.fromhex("0101AA0201BB0301CC"))
    assert canonical_fields(items, (1, 2), (3,))[3] == b"\xcc"


@pytest.mark.parametrize(
    ("day", "hex_value"),
    [
        (date(2026, 8, 31), "20260831"),
        (date(1949, 12, 31), "19491231"),
        (date(2000, 2, 29), "20000229"),
        (date(9999, 12, 31), "99991231"),
    ],
)
def test_date_bcd_vectors(day: date, hex_value: str) -> None:
    assert encode_date(day) == bytes.fromhex(hex_value)
    assert decode_date(bytes.fromhex(hex_value), "d") == day


@pytest.mark.parametrize("hex_value", ["19990230", "2026AA01", "00000101", "202601", "2026013100"])
def test_date_bad_values(hex_value: str) -> None:
    with pytest.raises(FormatError) as err:
        decode_date(bytes.fromhex(hex_value), "d")
    assert err.value.reason == "bad_value"


def test_uint_and_text_bad_values() -> None:
    assert decode_uint(bytes.fromhex("FFFFFFFF"), 4, "seq") == 2**32 - 1
    with pytest.raises(FormatError) as err:
        decode_uint(b"\x01\x02", 4, "seq")
    assert err.value.reason == "bad_value"
    with pytest.raises(FormatError) as err:
        decode_text(b"\xe5\xbc", "name")  # cut UTF-8 sequence
    assert err.value.reason == "bad_value"


@pytest.mark.parametrize(
    ("magic", "body", "expected"),
    [
        (b"RS", b"", "525301000925571969"),
        (b"ID", bytes.fromhex("010141"), "494401000C0101417B3C11A8"),
    ],
)
def test_frame_vectors(magic: bytes, body: bytes, expected: str) -> None:
    frame = encode_frame(magic, body)
    assert frame == bytes.fromhex(expected)
    assert decode_frame(magic, frame) == body
    # stale bytes after the framed length are ignored
    assert decode_frame(magic, frame + b"\x5a" * 40) == body


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        ("", "empty"),
        ("00" * 512, "empty"),
        ("FF" * 512, "empty"),
        ("4944", "truncated"),
        ("525301000925571969", "bad_magic"),  # an RS frame read as ID
        ("494402000C0101417B3C11A8", "bad_version"),
        ("4944010008010141", "bad_length"),  # shorter than header + CRC
        ("4944010201010141", "bad_length"),  # 513 > capacity
        ("494401000C0101417B3C11", "truncated"),
        ("494401000C0101427B3C11A8", "bad_crc"),
    ],
)
def test_frame_rejects(hex_data: str, reason: str) -> None:
    with pytest.raises(FormatError) as err:
        decode_frame(b"ID", bytes.fromhex(hex_data))
    assert err.value.reason == reason


def test_frame_refuses_oversize_body() -> None:
    assert len(encode_frame(b"ID", b"\x01" * (MAX_FRAME_LEN - 9))) == MAX_FRAME_LEN
    with pytest.raises(ValueError):
        encode_frame(b"ID", b"\x01" * (MAX_FRAME_LEN - 8))


def test_errors_keep_their_codes_through_pickle() -> None:
    fmt = pickle.loads(pickle.dumps(FormatError("bad_crc", "torn")))
    assert (fmt.reason, fmt.message, str(fmt)) == ("bad_crc", "torn", "bad_crc: torn")
    fld = pickle.loads(pickle.dumps(FieldError("name", "too_long", "name is 64 bytes")))
    assert (fld.field, fld.reason, fld.message) == ("name", "too_long", "name is 64 bytes")
