"""Fault plan on the in-process connection: power cuts, tearing inside UPDATE, mute, forced SW,
pull and re-insertion, and the image surviving a killed process."""

from __future__ import annotations

import random

import pytest

from card_layout.files import Fid, KeyRef
from cardservice.errors import CardRemovedError, CardTimeoutError, NoCardError
from simulator.card import VirtualCard
from simulator.image import CardImage
from simulator.inprocess import READER_NAME, InProcessConnection
from tests.sim.conftest import SERIAL, authenticate, tx


@pytest.fixture
def conn(card) -> InProcessConnection:
    return InProcessConnection(card)


def test_connection_basics(conn, card):
    assert conn.reader_name == READER_NAME
    assert conn.atr == card.atr
    assert conn.send_and_receive(bytes.fromhex("FFCA000000")) == (SERIAL, 0x9000)


def test_cut_power_after_n_apdus(conn, card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    card.faults.cut_power_after(2)
    assert conn.send_and_receive(bytes.fromhex("00B0810000"))[1] == 0x9000
    assert conn.send_and_receive(bytes.fromhex("00D6830001AA"))[1] == 0x9000
    with pytest.raises(CardRemovedError):
        conn.send_and_receive(bytes.fromhex("00D6830101BB"))
    assert not card.powered
    # re-inserted: works again, without authentication; the cut APDU never ran
    assert conn.send_and_receive(bytes.fromhex("00B0830000")) == (b"\xaa", 0x9000)
    assert conn.send_and_receive(bytes.fromhex("00D6830101BB"))[1] == 0x6982


def test_cut_inside_update_keeps_old_bytes_beyond_k(card, conn, blank_image):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    tx(card, "00 D6 83 00 06 111111111111")
    card.faults.cut_power_in_update(nth_update=2, after_bytes=3)
    tx(card, "00 D6 84 00 01 99")  # first UPDATE from now: not cut
    with pytest.raises(CardRemovedError):
        conn.send_and_receive(bytes.fromhex("00D6830006222222222222"))
    reloaded = CardImage.load(blank_image.path)
    assert reloaded.files[Fid.RES_A].data == bytes.fromhex("222222111111")
    assert conn.send_and_receive(bytes.fromhex("00B0830000"))[0] == bytes.fromhex("222222111111")


def test_cut_inside_update_grows_length_only_by_landed_bytes(card, conn):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    card.faults.cut_power_in_update(after_bytes=2)
    with pytest.raises(CardRemovedError):
        conn.send_and_receive(bytes.fromhex("00D6840004AABBCCDD"))
    assert card.image.files[Fid.RES_B].data == bytes.fromhex("AABB")


def test_cut_after_all_bytes_landed_loses_only_the_answer(card, conn):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    card.faults.cut_power_in_update(after_bytes=99)
    with pytest.raises(CardRemovedError):
        conn.send_and_receive(bytes.fromhex("00D6840002AABB"))
    assert card.image.files[Fid.RES_B].data == bytes.fromhex("AABB")


def test_apdu_and_update_counters(card, conn):
    start = card.apdu_count
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    tx(card, "00 D6 83 00 01 01")
    tx(card, "00 D6 83 00 01 02")
    tx(card, "00 D6 82 00 01 02")  # refused: not counted as an update
    assert card.apdu_count - start == 5
    assert card.update_count == 2


def test_mute_after_n_then_unmute(card, conn):
    card.faults.mute(after_apdus=1)
    assert conn.send_and_receive(bytes.fromhex("FFCA000000"))[1] == 0x9000
    for _ in range(2):
        with pytest.raises(CardTimeoutError):
            conn.send_and_receive(bytes.fromhex("FFCA000000"))
    card.faults.unmute()
    assert conn.send_and_receive(bytes.fromhex("FFCA000000"))[1] == 0x9000


def test_answer_sw_for_an_instruction(card, conn):
    card.faults.answer_sw(0x6F00, ins=0xB0, times=2)
    assert conn.send_and_receive(bytes.fromhex("FFCA000000"))[1] == 0x9000
    assert conn.send_and_receive(bytes.fromhex("00B0810000")) == (b"", 0x6F00)
    assert conn.send_and_receive(bytes.fromhex("00B0810000")) == (b"", 0x6F00)
    assert conn.send_and_receive(bytes.fromhex("00B0810000")) == (SERIAL, 0x9000)


def test_forced_sw_does_not_run_the_command(card, conn):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    card.faults.answer_sw(0x9000)
    assert conn.send_and_receive(bytes.fromhex("00D6830001AA")) == (b"", 0x9000)
    assert card.image.files[Fid.RES_A].length == 0


def test_pull_then_no_card_until_inserted(card, conn):
    card.faults.pull()
    with pytest.raises(CardRemovedError):
        conn.send_and_receive(bytes.fromhex("FFCA000000"))
    with pytest.raises(NoCardError):
        conn.send_and_receive(bytes.fromhex("FFCA000000"))
    with pytest.raises(NoCardError):
        InProcessConnection(card)
    card.insert()
    again = InProcessConnection(card)
    assert again.send_and_receive(bytes.fromhex("FFCA000000")) == (SERIAL, 0x9000)


def test_clear_drops_pending_faults(card, conn):
    card.faults.cut_power_after(0)
    card.faults.mute(3)
    card.faults.answer_sw(0x6A82)
    card.faults.clear()
    for _ in range(5):
        assert conn.send_and_receive(bytes.fromhex("FFCA000000"))[1] == 0x9000


def test_fault_arguments_are_checked(card):
    with pytest.raises(ValueError):
        card.faults.cut_power_after(-1)
    with pytest.raises(ValueError):
        card.faults.cut_power_in_update(nth_update=0)
    with pytest.raises(ValueError):
        card.faults.answer_sw(0x10000)


def test_image_survives_a_killed_process(card, blank_image):
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    tx(card, "00 D6 82 00 03 414243")
    tx(card, "80 1C 00 00")
    assert authenticate(card, KeyRef.WRITE, bytes(16)) == 0x63C7
    del card  # nothing is flushed at exit: every change was saved when it happened
    reborn = VirtualCard(blank_image.path, random.Random(1))
    reborn.power_on()
    assert tx(reborn, "00 B0 82 00 00") == (b"ABC", 0x9000)
    assert reborn.image.locked and reborn.image.tries[KeyRef.WRITE] == 7
    assert reborn.os.ram.authenticated == set()
