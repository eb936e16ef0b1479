"""Percentiles, timing loops and a least-squares slope (for memory trends)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Timer = Callable[[], float]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Latency:
    """Latency summary in milliseconds."""

    n: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        return cls(len(seconds), percentile(seconds, 50) * 1e3, percentile(seconds, 99) * 1e3)


def time_interleaved(fns: Sequence[Callable[[], object]], n: int, *, warmup: int = 10,
                     timer: Timer = time.perf_counter) -> list[list[float]]:
    """The seconds of each of ``fns``, timed ``n`` times, one call of each in turn (after
    ``warmup`` untimed rounds), so that all of them meet the same machine: on shared cores,
    blocks of one kind after another see different load, and a process called back to back
    stays awake. A function may be listed twice (to give two others the same predecessor)."""
    samples: list[list[float]] = [[] for _ in fns]
    for k in range(warmup + n):
        for fn, out in zip(fns, samples):
            start = timer()
            fn()
            if k >= warmup:
                out.append(timer() - start)
    return samples


def time_calls(fn: Callable[[], object], n: int, *, warmup: int = 10,
               timer: Timer = time.perf_counter) -> Latency:
    """Call ``fn`` ``warmup`` times untimed, then ``n`` times, each timed on its own."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        start = timer()
        fn()
        samples.append(timer() - start)
    return Latency.of(samples)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0.0 for fewer than two points)."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
