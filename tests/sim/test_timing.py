"""The card timing model: ATRs per profile, wire characters, EEPROM pages, and the pacing of a
simulated card's answers (with a fake clock: no test here depends on real time)."""

from __future__ import annotations

import pytest
from smartcard.ATR import ATR as PyscardAtr

from simulator.atr import ATR
from simulator.card import VirtualCard
from simulator.timing import (
    CHAR_ETU,
    FAST,
    INSTANT,
    ISO_9600,
    SPIN_S,
    Pacer,
    atr_for,
    exchange_seconds,
    pages_written,
    profile,
    wire_chars,
)
from tests.sim.conftest import tx


def test_instant_and_iso_9600_send_todays_atr():
    assert atr_for(INSTANT) == ATR
    assert atr_for(ISO_9600) == ATR
    assert ATR.hex() == "3b890180739c014053525031c6"


def test_fast_atr_announces_f512_d32_and_ifsc_254():
    raw = atr_for(FAST)
    assert raw.hex() == "3b99968111fe80739c0140535250312f"
    parsed = PyscardAtr(list(raw))
    assert parsed.getTA1() == 0x96
    assert parsed.isT1Supported()
    assert parsed.getChecksum() == raw[-1]


@pytest.mark.parametrize(("p", "rate"), [(ISO_9600, 9600.0), (FAST, 223_200.0)])
def test_bit_rates(p, rate):
    assert p.bit_rate == pytest.approx(rate)


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown timing profile 'slow'"):
        profile("slow")


@pytest.mark.parametrize(("ifsc", "command", "response", "chars"), [
    # one block each way: 5 + 2 bytes + 2 x 4 framing
    (32, 5, 2, 15),
    # 40-byte command at IFSC 32: two I-blocks (+8), one R-block ack (+4); answer one block (+4)
    (32, 40, 2, 40 + 2 + 12 + 4),
    # 300-byte answer at IFSD 254: two I-blocks (+8) and one R-block (+4); command one block (+4)
    (254, 5, 300, 5 + 300 + 12 + 4),
])
def test_wire_characters_with_t1_framing(ifsc, command, response, chars):
    p = ISO_9600 if ifsc == 32 else FAST
    assert wire_chars(p, command, response) == chars


@pytest.mark.parametrize(("apdu_hex", "pages"), [
    ("00D6000010" + "00" * 16, 1),                 # offset 0, 16 bytes
    ("00D6003808" + "00" * 8, 1),                  # 0x38..0x3F stays in page 0
    ("00D6003C08" + "00" * 8, 2),                  # 0x3C..0x43 crosses into page 1
    ("00D6820010" + "00" * 16, 1),                 # SFI form, offset 0
    ("00D6000000" + "0101" + "00" * 257, 5),       # extended Lc 257 from 0: pages 0..4
    ("00B0000000", 0),                             # READ BINARY writes nothing
])
def test_pages_written(apdu_hex, pages):
    assert pages_written(bytes.fromhex(apdu_hex), 64) == pages


def test_exchange_time_is_wire_plus_processing_plus_eeprom():
    apdu = bytes.fromhex("00D6000010") + bytes(16)
    chars = wire_chars(ISO_9600, len(apdu), 2)
    wire = (chars * CHAR_ETU + 1 * 22) * ISO_9600.etu_s
    expected = wire + ISO_9600.command_s + 1 * ISO_9600.page_write_s
    assert exchange_seconds(ISO_9600, apdu, 2) == pytest.approx(expected)
    assert exchange_seconds(INSTANT, apdu, 2) == 0.0


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_counts_the_simulators_own_work_toward_the_wait():
    fake = FakeTime()
    pacer = Pacer(ISO_9600, fake.clock, fake.sleep)
    apdu = bytes.fromhex("00B0000000")
    started = pacer.start()
    fake.now += 0.002  # the card OS took 2 ms
    pacer.finish(started, apdu, 100)
    assert fake.slept == [pytest.approx(exchange_seconds(ISO_9600, apdu, 100) - 0.002)]


class TickingTime(FakeTime):
    """A clock that moves 0.05 ms each time it is read (a spin loop reads it)."""

    def clock(self) -> float:
        self.now += 0.00005
        return self.now


def test_pacer_sleeps_short_of_the_due_time_and_spins_the_rest():
    fake = TickingTime()
    pacer = Pacer(ISO_9600, fake.clock, fake.sleep, spin_s=0.0003)
    apdu = bytes.fromhex("00B0000000")
    started = pacer.start()
    pacer.finish(started, apdu, 100)
    due = started + exchange_seconds(ISO_9600, apdu, 100)
    assert len(fake.slept) == 1
    assert fake.slept[0] == pytest.approx(due - 0.0003 - (started + 0.00005))
    assert due <= fake.now < due + 0.0001  # spun up to the due time, not slept past it


def test_pacer_spins_only_with_the_real_sleep():
    fake = FakeTime()
    assert Pacer(ISO_9600, fake.clock, fake.sleep).spin_s == 0.0
    assert Pacer(ISO_9600).spin_s == SPIN_S


def test_pacer_pause_waits_the_whole_time():
    fake = TickingTime()
    pacer = Pacer(ISO_9600, fake.clock, fake.sleep, spin_s=0.0003)
    before = fake.now
    pacer.pause(0.015)
    assert before + 0.015 <= fake.now < before + 0.0152


def test_timed_card_answers_the_same_and_waits_its_model(blank_image):
    plain = VirtualCard(blank_image)
    timed = VirtualCard(blank_image, timing=ISO_9600)
    fake = FakeTime()
    timed._pacer = Pacer(ISO_9600, fake.clock, fake.sleep)
    for card in (plain, timed):
        card.power_on()
    assert timed.atr == ATR
    select = "00A4040006F05250310001"
    assert tx(timed, select) == tx(plain, select)
    data, _ = tx(timed, select)
    command = bytes.fromhex(select)
    assert fake.slept[-1] == pytest.approx(exchange_seconds(ISO_9600, command, len(data) + 2))


def test_fast_card_sends_its_profiles_atr(blank_image):
    card = VirtualCard(blank_image, timing=FAST)
    assert card.power_on() == atr_for(FAST)
