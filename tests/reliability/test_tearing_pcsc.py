"""Power cuts through the real stack (pyscard driver -> pcscd -> vpcd -> simulated card): a
sample of the in-process sweep's cut points (every 3rd APDU and a few byte offsets inside each
UPDATE) of issue and re-sign. For each: the card, read back through pcscd, holds its old or its
new valid record, and the registry and the audit log agree with it (the judge of
tests/engine/test_tearing.py, fed a pcscd connection)."""

from __future__ import annotations

import copy
import random
import time

import pytest

from cardservice import errors
from cardservice.transport.pcsc import PcscDriver
from simulator.card import VirtualCard
from simulator.image import CardImage
from tests.conftest import serve_card, wait_card_state
from tests.engine.conftest import make_card
from tests.engine.test_tearing import (
    SERIAL,
    _issue,
    _resign,
    count_apdus,
    fresh_engine,
    issued_card,
    judge,
    update_offsets,
)

pytestmark = pytest.mark.pcsc

APDU_STEP = 3
OFFSETS_PER_UPDATE = 3
#: The transport errors a cut may surface as through pcscd (the card vanished mid-command).
CUT_ERRORS = (errors.CardRemovedError, errors.CardResetError, errors.NoCardError,
              errors.WriteVerifyError, errors.TransportError)


def sampled_arms(total: int, update_lengths: list[int]) -> list[tuple[str, int, int]]:
    arms = [("after", n, 0) for n in range(0, total, APDU_STEP)]
    for nth, length in enumerate(update_lengths, start=1):
        offsets = update_offsets(length)
        picks = {offsets[0], offsets[len(offsets) // 2], offsets[-1]}
        arms += [("update", nth, k) for k in sorted(picks)][:OFFSETS_PER_UPDATE]
    return arms


def _restore(card: VirtualCard, saved: CardImage) -> None:
    """Put the card's memory back to ``saved`` (same image object: the card OS holds it)."""
    for fid, ef in saved.files.items():
        card.image.files[fid].memory[:] = ef.memory
        card.image.files[fid].length = ef.length
    card.image.locked = saved.locked
    card.image.tries.update(saved.tries)
    card.image.chip_key, card.image.counter = saved.chip_key, saved.counter
    card.faults.clear()


def _connect(driver: PcscDriver, reader: str, timeout: float = 6.0):
    """A connection once the card is back in the reader after a cut."""
    deadline = time.monotonic() + timeout
    while True:
        wait_card_state(reader, present=True, timeout=max(0.1, deadline - time.monotonic()))
        try:
            return driver.connect(reader)
        except errors.CardServiceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _judge_through_pcscd(driver, reader, engine, card, old_seq, new_seq, tries: int = 5):
    """The shared judge on a fresh pcscd connection; a connection opened just before pcscd
    noticed the re-insertion gives CARD_REMOVED / CARD_RESET: connect again."""
    for attempt in range(tries):
        try:
            with _connect(driver, reader) as conn:
                return judge(engine, card, old_seq, new_seq, conn=conn)
        except (errors.CardRemovedError, errors.CardResetError):
            if attempt == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def _arm(card: VirtualCard, arm: tuple[str, int, int]) -> None:
    kind, n, k = arm
    if kind == "after":
        card.faults.cut_power_after(n)
    else:
        card.faults.cut_power_in_update(n, k)


def _sweep_through_pcscd(demo_home, setup, op, old_seq, new_seq) -> dict[str, int]:
    total, lengths = count_apdus(demo_home, setup, op)
    arms = sampled_arms(total, lengths)
    card = VirtualCard(make_card(SERIAL).image, random.Random(7))
    bridge, reader = serve_card(card)
    bridge.reinsert_delay = 0.3
    driver = PcscDriver(timeout=3.0)
    counts = {"old": 0, "new": 0, "points": 0, "cut": 0}
    try:
        for arm in arms:
            engine = fresh_engine(demo_home)
            prepared = setup(engine)  # same registry/audit state as in-process, then copied in
            _restore(card, copy.deepcopy(prepared.image))
            _arm(card, arm)
            with _connect(driver, reader) as conn:
                try:
                    op(engine, conn)
                except CUT_ERRORS as exc:
                    counts["cut"] += 1
                    assert not isinstance(exc, errors.CardTimeoutError), exc
                    wait_card_state(reader, present=False, timeout=1.5)  # pcscd saw the cut
            card.faults.clear()
            outcome = _judge_through_pcscd(driver, reader, engine, card, old_seq, new_seq)
            counts[outcome.card_state] += 1
            counts["points"] += 1
    finally:
        driver.close()
        bridge.stop()
        wait_card_state(reader, present=False)
    return counts


@pytest.mark.parametrize("name,setup,op,old,new", [
    ("issue", lambda e: make_card(SERIAL), _issue, None, 1),
    ("resign", issued_card, _resign, 1, 2),
])
def test_tearing_sample_through_pcscd(pcscd, demo_home, name, setup, op, old, new, capsys):
    counts = _sweep_through_pcscd(demo_home, setup, op, old, new)
    with capsys.disabled():
        print(f"\n{name} through pcscd: {counts['points']} cut points, 0 corrupt cards "
              f"({counts['old']} old, {counts['new']} new, {counts['cut']} interrupted)")
    assert counts["old"] > 0 and counts["new"] > 0
    assert counts["cut"] > 0
