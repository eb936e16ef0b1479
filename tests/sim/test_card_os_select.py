"""SELECT by AID and FID, FCI/FCP contents, ATR."""

from __future__ import annotations

import pytest

from card_layout.files import KeyRef
from simulator.atr import ATR, HISTORICAL_BYTES
from tests.sim.conftest import SERIAL, authenticate, tx


def test_atr_is_t1_with_rp1_historical_bytes_and_valid_tck():
    assert ATR[0] == 0x3B and ATR[1] == 0x80 | len(HISTORICAL_BYTES)
    assert ATR[2] == 0x01  # TD1: T=1
    assert ATR[3:-1] == bytes.fromhex("80 739C0140 53") + b"RP1"
    tck = 0
    for b in ATR[1:]:
        tck ^= b
    assert tck == 0


def test_select_aid_returns_fci_with_serial_and_state(card):
    data, sw = tx(card, "00 A4 04 00 06 F05250310001 00")
    assert sw == 0x9000
    assert data == (bytes.fromhex("6F15 A513 C008") + SERIAL
                    + bytes.fromhex("C10100 C30400000000"))  # state open, counter 0


def test_select_aid_p2_0c_returns_no_data(card):
    assert tx(card, "00 A4 04 0C 06 F05250310001") == (b"", 0x9000)


def test_fci_state_is_locked_after_lock_identity(card):
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, "80 1C 00 00")[1] == 0x9000
    data, _ = tx(card, "00 A4 04 00 06 F05250310001 00")
    assert data[-9:] == bytes.fromhex("C10101 C30400000000")


def test_unknown_aid_6a82_deselects_and_drops_authentication(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "00 A4 04 00 06 A00000000101 00")[1] == 0x6A82
    assert tx(card, "00 A4 00 0C 02 0102")[1] == 0x6A82
    assert tx(card, "00 84 00 00 08")[1] == 0x6985
    assert tx(card, "00 A4 04 0C 06 F05250310001")[1] == 0x9000
    assert tx(card, "00 D6 83 00 01 AA")[1] == 0x6982


@pytest.mark.parametrize("p1", ["00", "02"])
def test_select_fid_no_data(card, p1):
    assert tx(card, f"00 A4 {p1} 0C 02 0100") == (b"", 0x9000)


@pytest.mark.parametrize("p2", ["00", "04"])
def test_select_fid_fcp(card, p2):
    data, sw = tx(card, f"00 A4 00 {p2} 02 0103 00")
    assert sw == 0x9000
    assert data == bytes.fromhex("6215 80020000 81020200 820101 83020103 880104 8A0105")


def test_fcp_of_ef_card_shows_data_length_8(card):
    data, _ = tx(card, "00 A4 00 04 02 0100 00")
    assert data[2:6] == bytes.fromhex("80020008")


@pytest.mark.parametrize("apdu,sw", [
    ("00 A4 00 0C 02 0105", 0x6A82),   # unknown FID
    ("00 A4 00 0C 02 3F00", 0x6A82),   # no MF
    ("00 A4 01 0C 02 0100", 0x6A86),   # bad P1
    ("00 A4 00 08 02 0100", 0x6A86),   # bad P2
    ("00 A4 04 08 06 F05250310001", 0x6A86),
    ("00 A4 00 0C 01 01", 0x6700),     # FID not 2 bytes
    ("00 A4 04 00", 0x6700),           # no AID
])
def test_select_errors(card, apdu, sw):
    assert tx(card, apdu)[1] == sw
