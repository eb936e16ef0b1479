"""GENERATE KEY PAIR, INTERNAL AUTHENTICATE, the record-write counter and EF.PHOTO's access
rules of the simulated card OS (docs/card-os.md)."""

from __future__ import annotations

import pytest

from card_layout.files import KeyRef
from card_layout.frame import encode_frame
from card_layout.jpeg_sample import flat_jpeg
from cardservice.pki.chip import chip_answer_valid
from simulator.card import VirtualCard
from simulator.faults import PowerLost
from simulator.image import CardImage
from tests.sim.conftest import SERIAL, authenticate, tx

CHALLENGE = bytes(range(16))
SELECT = "00 A4 04 00 06 F05250310001 00"


def counter(card: VirtualCard) -> int:
    data, sw = tx(card, SELECT)
    assert sw == 0x9000 and data[-6:-4] == bytes.fromhex("C304")
    return int.from_bytes(data[-4:], "big")


def keygen(card: VirtualCard) -> bytes:
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    point, sw = tx(card, "80 46 00 00 00")
    assert sw == 0x9000
    return point


def test_generate_key_pair_answers_a_p256_point(card):
    point = keygen(card)
    assert len(point) == 65 and point[0] == 0x04
    assert card.image.chip_key is not None
    assert CardImage.load(card.image.path).chip_key == card.image.chip_key  # persistent


@pytest.mark.parametrize(("setup", "apdu", "sw"), [
    ("none", "80 46 00 00 00", 0x6982),  # key 01 not authenticated
    ("write", "80 46 00 00 00", 0x6982),  # key 02 does not grant it
    ("perso", "80 46 00 01 00", 0x6A86),
    ("perso", "80 46 00 00", 0x6700),  # no Le
    ("perso", "00 46 00 00 00", 0x6E00),  # proprietary class only
    ("locked", "80 46 00 00 00", 0x6985),  # the key is fixed once the identity is locked
])
def test_generate_key_pair_refusals(card, setup, apdu, sw):
    if setup in ("perso", "locked"):
        assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    if setup == "write":
        assert authenticate(card, KeyRef.WRITE) == 0x9000
    if setup == "locked":
        assert tx(card, "80 1C 00 00")[1] == 0x9000
    assert tx(card, apdu)[1] == sw


def test_internal_authenticate_proves_the_chip_key(card):
    point = keygen(card)
    answer, sw = tx(card, f"00 88 00 00 10 {CHALLENGE.hex()} 00")
    assert sw == 0x9000 and len(answer) == 64
    assert chip_answer_valid(point, SERIAL, 0, CHALLENGE, answer)
    assert not chip_answer_valid(point, SERIAL, 1, CHALLENGE, answer)  # the counter is signed
    assert not chip_answer_valid(point, SERIAL, 0, bytes(16), answer)
    assert not chip_answer_valid(point, bytes(8), 0, CHALLENGE, answer)


@pytest.mark.parametrize(("apdu", "sw"), [
    (f"00 88 00 00 10 {CHALLENGE.hex()} 00", 0x6A88),  # no key pair yet
    (f"00 88 00 00 0F {CHALLENGE[:15].hex()} 00", 0x6700),
    (f"00 88 00 00 10 {CHALLENGE.hex()}", 0x6700),  # no Le
    (f"00 88 01 00 10 {CHALLENGE.hex()} 00", 0x6A86),
])
def test_internal_authenticate_refusals(card, apdu, sw):
    assert tx(card, apdu)[1] == sw


def test_internal_authenticate_needs_no_key_and_survives_reset(card):
    point = keygen(card)
    card.power_off()
    card.power_on()
    answer, sw = tx(card, f"00 88 00 00 10 {CHALLENGE.hex()} 00")
    assert sw == 0x9000 and chip_answer_valid(point, SERIAL, 0, CHALLENGE, answer)


def _slot(sequence_byte: int, size: int = 40) -> bytes:
    return encode_frame(b"RS", bytes([0x11, 0x04, 0, 0, 0, sequence_byte]) + b"\x15" * size)


def test_counter_counts_completed_record_writes_only(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    frame = _slot(1)
    assert counter(card) == 0
    assert tx(card, f"00 D6 83 00 {len(frame):02X} {frame.hex()}")[1] == 0x9000
    assert counter(card) == 1
    # in two short chunks: the chunk that writes the frame's last byte counts, once
    frame = _slot(2, 60)
    half = len(frame) // 2
    assert tx(card, f"00 D6 84 00 {half:02X} {frame[:half].hex()}")[1] == 0x9000
    assert counter(card) == 1
    assert tx(card, f"00 D6 84 {half:02X} {len(frame) - half:02X} {frame[half:].hex()}")[1] \
        == 0x9000
    assert counter(card) == 2
    # neither a frame with a wrong CRC nor EF.ID nor an erase count
    bad = frame[:-1] + bytes([frame[-1] ^ 1])
    assert tx(card, f"00 D6 83 00 {len(bad):02X} {bad.hex()}")[1] == 0x9000
    assert tx(card, "00 0E 83 00")[1] == 0x9000
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, f"00 D6 82 00 {len(frame):02X} {frame.hex()}")[1] == 0x9000
    assert counter(card) == 2
    assert CardImage.load(card.image.path).counter == 2


def test_counter_does_not_count_a_torn_write(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    frame = _slot(1)
    card.faults.cut_power_in_update(1, len(frame) - 1)
    with pytest.raises(PowerLost):
        card.process(bytes.fromhex(f"00 D6 83 00 {len(frame):02X} {frame.hex()}"))
    card.power_on()
    assert counter(card) == 0


def test_photo_ef_is_written_with_key_01_and_locked_with_the_identity(card):
    photo = flat_jpeg()
    apdu = f"00 D6 85 00 00 {len(photo):04X} {photo.hex()}"
    assert tx(card, apdu)[1] == 0x6982
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, apdu)[1] == 0x6982  # the write key does not grant it
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert tx(card, apdu)[1] == 0x9000
    data, sw = tx(card, "00 B0 85 00 00 00 00")
    assert (data, sw) == (photo, 0x9000)
    assert tx(card, "80 1C 00 00")[1] == 0x9000
    assert tx(card, apdu)[1] == 0x6985
    assert tx(card, "00 0E 85 00")[1] == 0x6985
    fcp, _ = tx(card, "00 A4 00 04 02 0104 00")
    assert fcp[2:6] == b"\x80\x02" + len(photo).to_bytes(2, "big")
    assert fcp[6:10] == bytes.fromhex("81021000")  # capacity 4096
