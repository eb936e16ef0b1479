"""The latency section's interleaving (over a cycle of rounds, each path comes right after each
other path equally often: no path always runs after the same one) and its replay with the chip
check."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from bench.cards import issued_image, make_bench
from bench.counting import CountingConnection
from bench.latency import CheckedReplay, direct_verdict, order_of_round
from bench.stats import Latency
from simulator.card import VirtualCard
from simulator.image import CardImage
from simulator.inprocess import InProcessConnection

PATHS = ["worker", "cli", "driver", "raw"]
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_each_round_runs_every_path_once() -> None:
    for k in range(30):
        assert sorted(order_of_round(PATHS, k)) == sorted(PATHS)


def test_the_first_round_keeps_the_given_order_and_the_cycle_repeats() -> None:
    assert order_of_round(PATHS, 0) == PATHS
    assert order_of_round(PATHS, 24) == PATHS
    assert order_of_round(PATHS, 1) != PATHS


def test_over_a_cycle_each_path_follows_each_other_path_equally_often() -> None:
    followed: Counter[tuple[str, str]] = Counter()
    for k in range(24):
        followed.update(pairwise(order_of_round(PATHS, k)))
    assert set(followed) == {(a, b) for a in PATHS for b in PATHS if a != b}
    assert set(followed.values()) == {6}


def test_the_target_says_what_the_chip_check_costs() -> None:
    verdict = direct_verdict(Latency(300, 1.05, 2.0), Latency(300, 0.8, 1.5),
                             Latency(300, 0.92, 1.6))
    assert (verdict.value, verdict.passed) == (1.31, False)
    assert verdict.note == ("the chip check that every read makes adds 0.120 ms to the raw "
                            "replay's 0.800 ms; read / (raw replay + chip check) 1.14x")


class _Replay:
    """Replays the recorded commands to an in-process card, as RawReplay does through pcscd;
    ``tamper`` flips a byte of the chip's answer."""

    def __init__(self, conn: InProcessConnection, apdus: list[bytes]) -> None:
        self.conn, self.apdus, self.tamper = conn, apdus, False

    def answers(self) -> list[bytes]:
        out = [self.conn.send_and_receive(a)[0] for a in self.apdus]
        if self.tamper:
            chip = next(i for i, a in enumerate(self.apdus) if a[1] == 0x88)
            out[chip] = bytes([out[chip][0] ^ 1]) + out[chip][1:]
        return out


def test_the_checked_replay_verifies_the_chip_answer_to_the_recorded_challenge(tmp_path):
    bench = make_bench(tmp_path, NOW)
    engine = bench.engine()
    rng = random.Random(3)
    card = VirtualCard(CardImage.load(issued_image(bench, engine, 0, resigned=False, rng=rng)),
                       rng=rng)
    counting = CountingConnection(InProcessConnection(card))
    view = engine.read(counting)
    apdus = list(counting.log)
    replay = _Replay(InProcessConnection(card), apdus)
    checked = CheckedReplay(replay, apdus, view)  # type: ignore[arg-type]
    assert apdus[checked.index][1] == 0x88 and len(checked.challenge) == 16
    checked.once()
    checked.once()  # the chip signs the same challenge afresh, and it verifies again
    replay.tamper = True
    with pytest.raises(RuntimeError, match="did not verify"):
        checked.once()
