"""GET DATA (serial), class and instruction checks, malformed APDUs."""

from __future__ import annotations

import pytest

from tests.sim.conftest import SERIAL, tx


@pytest.mark.parametrize("apdu", ["FF CA 00 00 00", "FF CA 00 00 08", "00 CA 00 C0 00"])
def test_get_data_returns_serial(card, apdu):
    assert tx(card, apdu) == (SERIAL, 0x9000)


def test_get_data_works_with_no_application_selected(card):
    tx(card, "00 A4 04 00 05 A000000001")
    assert tx(card, "FF CA 00 00 00") == (SERIAL, 0x9000)


@pytest.mark.parametrize("apdu,sw,data", [
    ("FF CA 00 00 04", 0x6C08, b""), ("FF CA 00 00 0A", 0x6282, SERIAL),
    ("FF CA 01 00 00", 0x6A86, b""), ("00 CA 00 C1 00", 0x6A88, b""),
    ("FF CA 00 00", 0x6700, b""),
])
def test_get_data_errors(card, apdu, sw, data):
    assert tx(card, apdu) == (data, sw)


@pytest.mark.parametrize("apdu,sw", [
    ("A0 A4 04 00 06 F05250310001", 0x6E00),  # unknown CLA
    ("01 B0 81 00 00", 0x6E00),               # logical channel
    ("80 B0 81 00 00", 0x6E00),               # known INS, wrong CLA
    ("00 1C 00 00", 0x6E00),                  # proprietary INS under CLA 00
    ("00 20 00 01 00", 0x6D00),               # VERIFY not supported
    ("FF 00 00 00 00", 0x6D00),
    ("00 C0 00 00 00", 0x6985),               # GET RESPONSE: nothing pending
    ("00 B0 81", 0x6700),                     # truncated header
    ("00 D6 83 00 05 0102", 0x6700),          # Lc larger than data
])
def test_class_instruction_and_length_errors(card, apdu, sw):
    assert tx(card, apdu)[1] == sw
