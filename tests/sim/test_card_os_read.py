"""READ BINARY: addressing, short and extended Le, end-of-file handling."""

from __future__ import annotations

import pytest

from card_layout.files import KeyRef
from tests.sim.conftest import SERIAL, authenticate, tx


def _fill(card, sfi: int, data: bytes) -> None:
    ref = KeyRef.PERSONALIZATION if sfi == 2 else KeyRef.WRITE
    assert authenticate(card, ref) == 0x9000
    assert tx(card, f"00 D6 00 00 00 {len(data):04X} {data.hex()}".replace("00 D6 00 00",
              f"00 D6 {0x80 | sfi:02X} 00"))[1] == 0x9000


def test_read_current_ef_with_offset(card):
    tx(card, "00 A4 00 0C 02 0100")
    assert tx(card, "00 B0 00 02 03") == (SERIAL[2:5], 0x9000)


def test_read_by_sfi_selects_the_ef(card):
    assert tx(card, "00 B0 81 04 00") == (SERIAL[4:], 0x9000)
    assert tx(card, "00 B0 00 00 02") == (SERIAL[:2], 0x9000)


def test_le_00_returns_all_available_with_9000(card):
    assert tx(card, "00 B0 81 00 00") == (SERIAL, 0x9000)


def test_explicit_le_beyond_data_gives_available_bytes_and_6282(card):
    assert tx(card, "00 B0 81 06 05") == (SERIAL[6:], 0x6282)


def test_offset_at_data_length_reads_nothing(card):
    assert tx(card, "00 B0 81 08 00") == (b"", 0x9000)
    assert tx(card, "00 B0 81 08 01") == (b"", 0x6282)


def test_offset_past_data_length_is_6b00(card):
    assert tx(card, "00 B0 81 09 00")[1] == 0x6B00


def test_empty_ef_reads_empty(card):
    assert tx(card, "00 B0 83 00 00") == (b"", 0x9000)


def test_extended_le_returns_more_than_256_bytes(card):
    data = bytes(range(256)) + bytes(range(44))
    _fill(card, 3, data)
    assert tx(card, "00 B0 83 00 00 0000") == (data, 0x9000)
    assert tx(card, "00 B0 83 00 00 012C") == (data, 0x9000)
    assert tx(card, "00 B0 83 00 00 0200") == (data, 0x6282)


def test_short_le_00_caps_at_256(card):
    data = bytes(300)
    _fill(card, 4, data)
    got, sw = tx(card, "00 B0 84 00 00")
    assert (len(got), sw) == (256, 0x9000)


def test_15_bit_offset_on_current_ef(card):
    _fill(card, 3, bytes(range(256)) * 2)
    tx(card, "00 A4 00 0C 02 0102")
    assert tx(card, "00 B0 01 02 02") == (bytes([2, 3]), 0x9000)


@pytest.mark.parametrize("apdu,sw", [
    ("00 B0 00 00 08", 0x6986),   # no current EF after power-on
    ("00 B0 86 00 00", 0x6A82),   # unknown SFI (5 is EF.PHOTO)
    ("00 B0 A1 00 00", 0x6A86),   # b7..b6 of P1 set with SFI
    ("00 B0 81 00", 0x6700),      # no Le
    ("00 B0 81 00 01 00 00", 0x6700),  # data in a READ
    ("00 B0 81 00 00 00", 0x6700),     # inconsistent extended Le
])
def test_read_errors(card, apdu, sw):
    assert tx(card, apdu)[1] == sw
