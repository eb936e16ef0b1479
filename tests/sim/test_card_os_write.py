"""UPDATE BINARY, ERASE BINARY, LOCK IDENTITY and the access rules."""

from __future__ import annotations

import pytest

from card_layout.files import Fid, KeyRef
from tests.sim.conftest import authenticate, tx


def test_update_without_authentication_is_6982(card):
    assert tx(card, "00 D6 82 00 02 AABB")[1] == 0x6982
    assert tx(card, "00 D6 83 00 02 AABB")[1] == 0x6982
    assert card.image.files[Fid.ID].length == 0


def test_ef_card_is_never_writable(card):
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "00 D6 81 00 01 FF")[1] == 0x6985
    assert tx(card, "00 0E 81 00")[1] == 0x6985
    assert tx(card, "00 D6 81 00 01 FF")[1] == 0x6985


def test_personalization_key_writes_ef_id_not_records(card):
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, "00 D6 82 00 03 010203")[1] == 0x9000
    assert tx(card, "00 B0 82 00 00") == (bytes([1, 2, 3]), 0x9000)
    assert tx(card, "00 D6 83 00 01 01")[1] == 0x6982


def test_write_key_writes_records_not_ef_id(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "00 D6 83 00 01 01")[1] == 0x9000
    assert tx(card, "00 D6 84 00 01 02")[1] == 0x9000
    assert tx(card, "00 D6 82 00 01 01")[1] == 0x6982


def test_update_grows_data_length_and_keeps_tail(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    tx(card, "00 D6 83 00 04 11223344")
    tx(card, "00 D6 83 01 01 FF")
    assert tx(card, "00 B0 83 00 00") == (bytes.fromhex("11FF3344"), 0x9000)
    tx(card, "00 D6 83 04 02 5566")
    assert card.image.files[Fid.RES_A].length == 6


def test_update_offset_checks(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "00 D6 83 01 01 FF")[1] == 0x6B00   # past data length (0)
    big = "00" * 300
    assert tx(card, f"00 D6 03 00 00 012C {big}")[1] == 0x6B00  # offset 0x300 in EF.RES_A
    tx(card, "00 A4 00 0C 02 0102")
    assert tx(card, f"00 D6 00 00 00 012C {big}")[1] == 0x9000  # extended Lc
    assert tx(card, f"00 D6 01 2C 00 00F0 {'00' * 240}")[1] == 0x6A84  # 300+240 > 512
    assert tx(card, f"00 D6 01 2C 00 00D4 {'00' * 212}")[1] == 0x9000  # exactly 512


def test_update_and_erase_without_current_ef_are_6986(card):
    assert tx(card, "00 D6 00 00 01 AA")[1] == 0x6986
    assert tx(card, "00 0E 00 00")[1] == 0x6986


@pytest.mark.parametrize("apdu", ["00 D6 83 00", "00 D6 83 00 00", "00 D6 83 00 01 AA 00"])
def test_update_length_errors(card, apdu):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, apdu)[1] == 0x6700


def test_erase_sets_data_length_to_offset(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    tx(card, "00 D6 84 00 05 0102030405")
    assert tx(card, "00 0E 84 02")[1] == 0x9000
    assert tx(card, "00 B0 84 00 00") == (bytes([1, 2]), 0x9000)
    assert tx(card, "00 B0 84 03 00")[1] == 0x6B00
    assert bytes(card.image.files[Fid.RES_B].memory[2:5]) == bytes(3)


def test_erase_rules(card):
    assert tx(card, "00 0E 83 00")[1] == 0x6982
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "00 0E 83 01")[1] == 0x6B00
    assert tx(card, "00 0E 83 00 01 00")[1] == 0x6700
    assert tx(card, "00 0E 83 00")[1] == 0x9000


def test_lock_identity_needs_personalization_key(card):
    assert tx(card, "80 1C 00 00")[1] == 0x6982
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "80 1C 00 00")[1] == 0x6982
    assert not card.image.locked


def test_locked_identity_refuses_writes_for_good(card):
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, "00 D6 82 00 02 0102")[1] == 0x9000
    assert tx(card, "80 1C 00 00")[1] == 0x9000
    assert tx(card, "00 D6 82 00 01 09")[1] == 0x6985
    assert tx(card, "00 0E 82 00")[1] == 0x6985
    assert tx(card, "80 1C 00 00")[1] == 0x6985   # already locked
    card.power_on()
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, "00 D6 82 00 01 09")[1] == 0x6985
    assert tx(card, "00 B0 82 00 00") == (bytes([1, 2]), 0x9000)


@pytest.mark.parametrize("apdu,sw", [("80 1C 01 00", 0x6A86), ("80 1C 00 00 01 00", 0x6700)])
def test_lock_identity_shape_errors(card, apdu, sw):
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, apdu)[1] == sw
