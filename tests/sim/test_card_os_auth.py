"""GET CHALLENGE, EXTERNAL AUTHENTICATE, try counters and loss of authentication."""

from __future__ import annotations

import random

import pytest

from card_layout.auth import cryptogram, diversify
from card_layout.files import AUTH_TRIES, KeyRef
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from tests.sim.conftest import SERIAL, authenticate, tx


def test_card_keys_are_diversified_from_dev_masters(card):
    masters = load_dev_master_keys()
    for ref in KeyRef:
        assert card.image.keys[ref] == diversify(masters[ref], SERIAL)
        assert card.image.keys[ref] != masters[ref]


def test_challenge_comes_from_the_rng(card):
    expected = random.Random(42).randbytes(8)
    assert tx(card, "00 84 00 00 08") == (expected, 0x9000)
    assert tx(card, "00 84 00 00 00")[1] == 0x9000


@pytest.mark.parametrize("apdu,sw", [
    ("00 84 00 00 04", 0x6C08), ("00 84 00 00", 0x6700), ("00 84 01 00 08", 0x6A86),
])
def test_challenge_errors(card, apdu, sw):
    assert tx(card, apdu)[1] == sw


def test_right_cryptogram_authenticates(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert card.os.ram.authenticated == {KeyRef.WRITE}


def test_both_keys_can_be_authenticated_at_once(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x9000
    assert card.os.ram.authenticated == set(KeyRef)


def test_master_key_itself_is_refused(card):
    master = load_dev_master_keys()[KeyRef.WRITE]
    assert authenticate(card, KeyRef.WRITE, master) == 0x63C0 | (AUTH_TRIES - 1)


def test_no_challenge_is_6985_and_challenge_is_consumed(card):
    challenge, _ = tx(card, "00 84 00 00 08")
    crypt = cryptogram(card.image.keys[KeyRef.WRITE], challenge).hex()
    assert tx(card, f"00 82 00 02 10 {'00' * 16}")[1] == 0x63C7
    assert tx(card, f"00 82 00 02 10 {crypt}")[1] == 0x6985
    card.power_on()
    assert tx(card, f"00 82 00 02 10 {crypt}")[1] == 0x6985


def test_wrong_tries_count_down_block_and_persist(card, blank_image):
    bad = bytes(16)
    for left in range(AUTH_TRIES - 1, 0, -1):
        assert authenticate(card, KeyRef.PERSONALIZATION, bad) == 0x63C0 | left
    assert authenticate(card, KeyRef.PERSONALIZATION, bad) == 0x6983
    assert authenticate(card, KeyRef.PERSONALIZATION) == 0x6983
    assert authenticate(card, KeyRef.WRITE) == 0x9000  # the other key is independent
    assert CardImage.load(blank_image.path).tries[KeyRef.PERSONALIZATION] == 0


def test_success_resets_the_try_counter(card):
    assert authenticate(card, KeyRef.WRITE, bytes(16)) == 0x63C7
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert card.image.tries[KeyRef.WRITE] == AUTH_TRIES


def test_wrong_attempt_drops_that_keys_authentication(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert authenticate(card, KeyRef.WRITE, bytes(16)) == 0x63C7
    assert tx(card, "00 D6 83 00 01 01")[1] == 0x6982


@pytest.mark.parametrize("lose", ["power_off", "reset", "other_app"])
def test_authentication_is_lost(card, lose):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    if lose == "power_off":
        card.power_off()
        card.power_on()
    elif lose == "reset":
        card.reset()
    else:
        tx(card, "00 A4 04 00 05 A000000001")
        tx(card, "00 A4 04 0C 06 F05250310001")
    assert tx(card, "00 D6 83 00 01 01")[1] == 0x6982


def test_reselecting_rp1_keeps_authentication(card):
    assert authenticate(card, KeyRef.WRITE) == 0x9000
    assert tx(card, "00 A4 04 0C 06 F05250310001")[1] == 0x9000
    assert tx(card, "00 D6 83 00 01 01")[1] == 0x9000


@pytest.mark.parametrize("apdu,sw", [
    (f"00 82 00 03 10 {'00' * 16}", 0x6A86), (f"00 82 01 02 10 {'00' * 16}", 0x6A86),
    (f"00 82 00 02 08 {'00' * 8}", 0x6700),
])
def test_external_authenticate_shape_errors(card, apdu, sw):
    tx(card, "00 84 00 00 08")
    assert tx(card, apdu)[1] == sw
