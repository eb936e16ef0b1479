"""The latency section's interleaving: over a cycle of rounds, each path comes right after each
other path equally often (no path always runs after the same one)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from bench.latency import order_of_round

PATHS = ["worker", "cli", "driver", "raw"]


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
