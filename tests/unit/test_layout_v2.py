"""Hex vectors of the format-version-2 identity, the chip-auth bytes, the counter rule and the
photo check (card_layout/identity.py, chip.py, photo.py)."""

from __future__ import annotations

import dataclasses

import pytest

from card_layout.chip import chip_auth_tbs, completes_record
from card_layout.errors import FieldError, FormatError
from card_layout.frame import encode_frame
from card_layout.identity import Identity, decode_identity, encode_identity
from card_layout.idfile import decode_identity_body
from card_layout.jpeg_sample import flat_jpeg
from card_layout.photo import decode_photo_base64, validate_photo

BASE = Identity.create(name="张三", gender="female", nationality="01",
                       citizen_number="11010519491231002X", household_address="北京市")
V1_HEX = ("0106e5bca0e4b88902010203023031041231313031303531393439313233313030325805"
          "09e58c97e4baace5b882")
HASH = bytes(range(32))
POINT = b"\x04" + bytes(range(1, 65))


def test_version_1_identity_is_unchanged() -> None:
    assert BASE.version == 1 and encode_identity(BASE).hex() == V1_HEX


@pytest.mark.parametrize(("photo", "chip", "tail"), [
    (HASH, None, "0620" + HASH.hex()),
    (None, POINT, "0741" + POINT.hex()),
    (HASH, POINT, "0620" + HASH.hex() + "0741" + POINT.hex()),
])
def test_version_2_identity_vectors(photo, chip, tail) -> None:
    identity = dataclasses.replace(BASE, photo_sha256=photo, chip_public_key=chip)
    assert identity.version == 2
    encoded = encode_identity(identity)
    assert encoded.hex() == V1_HEX + tail
    assert decode_identity(encoded, 2) == identity


@pytest.mark.parametrize(("hex_body", "version", "reason"), [
    (V1_HEX + "0620" + HASH.hex(), 1, "bad_tag"),  # v2 tags in a v1 identity
    (V1_HEX, 2, "missing_field"),  # a v2 identity without either: not canonical
    (V1_HEX + "0741" + POINT.hex() + "0620" + HASH.hex(), 2, "bad_tag"),  # order
    (V1_HEX + "061f" + HASH[:31].hex(), 2, "bad_value"),
    (V1_HEX + "0741" + "05" + POINT[1:].hex(), 2, "bad_value"),  # compressed / bad prefix
])
def test_version_2_identity_refusals(hex_body, version, reason) -> None:
    with pytest.raises(FormatError) as exc:
        decode_identity(bytes.fromhex(hex_body), version)
    assert exc.value.reason == reason


def test_frame_version_selects_the_identity_rules() -> None:
    body = bytes.fromhex(V1_HEX + "0620" + HASH.hex())
    assert decode_identity_body(encode_frame(b"ID", body, 2))[0].photo_sha256 == HASH
    with pytest.raises(FormatError) as exc:
        decode_identity_body(encode_frame(b"ID", body, 1))
    assert exc.value.reason == "bad_tag"
    with pytest.raises(FormatError) as exc:
        decode_identity_body(encode_frame(b"ID", body, 3))
    assert exc.value.reason == "bad_version"


def test_chip_auth_bytes() -> None:
    tbs = chip_auth_tbs(bytes.fromhex("0102030405060708"), 0x01020304, bytes(range(16)))
    assert tbs.hex() == ("5250312d434849502d415554482d763100" "0102030405060708" "01020304"
                         "000102030405060708090a0b0c0d0e0f")
    with pytest.raises(ValueError):
        chip_auth_tbs(bytes(8), 0, bytes(15))


FRAME = encode_frame(b"RS", bytes.fromhex("1104000000011201011501411601421704202608311804"
                                          "20270228"))


@pytest.mark.parametrize(("content", "offset", "written", "counts"), [
    (FRAME, 0, len(FRAME), True),
    (FRAME + b"\x00" * 20, 0, len(FRAME) + 20, True),  # stale tail after the frame
    (FRAME, 10, len(FRAME) - 10, True),  # the chunk that writes the last byte
    (FRAME, 0, len(FRAME) - 1, False),  # the last byte not in this update
    (FRAME, len(FRAME), 5, False),  # only bytes after the frame
    (FRAME[:-1] + bytes([FRAME[-1] ^ 1]), 0, len(FRAME), False),  # CRC wrong
    (b"ID" + FRAME[2:], 0, len(FRAME), False),  # not a slot frame
    (FRAME[:20], 0, 20, False),  # torn
])
def test_completes_record(content, offset, written, counts) -> None:
    assert completes_record(content, offset, written) is counts


def test_photo_checks() -> None:
    photo = flat_jpeg(102, 126)
    info = validate_photo(photo)
    assert (info.width, info.height, info.size) == (102, 126, len(photo))
    padded = flat_jpeg(102, 126, comment=b"x" * (4096 - len(photo) - 4))
    assert len(padded) == 4096 and validate_photo(padded).size == 4096


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (flat_jpeg(102, 126, comment=b"x" * 4000), "too_long"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "bad_format"),
    (flat_jpeg()[:-2], "bad_format"),  # no EOI
    (b"\xff\xd8\xff\xd9", "bad_format"),  # no frame header
    (flat_jpeg(40, 126), "out_of_range"),
    (flat_jpeg(102, 700), "out_of_range"),
    (flat_jpeg(2000, 126), "out_of_range"),
])
def test_photo_refusals(data, reason) -> None:
    with pytest.raises(FieldError) as exc:
        validate_photo(data)
    assert (exc.value.field, exc.value.reason) == ("photo", reason)


@pytest.mark.parametrize("text", ["not base64!", "AAA", 12])
def test_photo_base64_refusals(text) -> None:
    with pytest.raises(FieldError) as exc:
        decode_photo_base64(text)
    assert exc.value.reason == "bad_format"
