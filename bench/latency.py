"""read+verify latency: in-process simulator, the service's PC/SC path (PcscConnection +
Engine.read) and a raw pyscard replay of the same APDUs through the same reader."""

from __future__ import annotations

import itertools
import logging
import random
import time
from pathlib import Path
from typing import TypeVar

from card_layout.files import Ins
from cardservice.engine.operations import Engine
from cardservice.engine.views import CardView
from cardservice.pki.chip import chip_answer_valid
from cardservice.transport.pcsc import PcscConnection
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection

from .counting import CountingConnection
from .rawpcsc import RawReplay
from .report import Figure, Section, Verdict
from .stats import Latency, time_calls

logger = logging.getLogger(__name__)

MAX_OVERHEAD = 1.3

T = TypeVar("T")


def _figures(group: str, lat: Latency) -> list[Figure]:
    return [Figure(group, f"p50 (n={lat.n})", lat.p50_ms, "ms"),
            Figure(group, "p99", lat.p99_ms, "ms")]


def in_process(engine: Engine, image: Path, n: int, rng: random.Random) -> Latency:
    conn = InProcessConnection(VirtualCard(image, rng=rng))
    return time_calls(lambda: engine.read(conn), n)


def driver_replay(conn: PcscConnection, apdus: list[bytes]) -> None:
    """The same APDUs through the service's driver, without parsing or verifying."""
    conn.begin_transaction()
    try:
        for apdu in apdus:
            if conn.send_and_receive(apdu)[1] != 0x9000:
                raise RuntimeError("driver replay got an error status")
    finally:
        conn.end_transaction()


class CheckedReplay:
    """The raw replay plus the one check of a read that no cache can spare: the chip's ECDSA
    answer to the challenge (the recorded challenge, which the chip signs afresh every time).
    A figure for comparison only: the target is against the bare raw replay."""

    def __init__(self, replay: RawReplay, apdus: list[bytes], view: CardView) -> None:
        self.replay = replay
        self.index = next(i for i, a in enumerate(apdus)
                          if a[1] == Ins.INTERNAL_AUTHENTICATE)
        command = apdus[self.index]
        self.challenge = bytes(command[5:5 + command[4]])
        report = view.report
        if report.identity is None or report.identity.chip_public_key is None \
                or report.counter is None:
            raise RuntimeError("the latency card has no chip key or counter")
        self.point, self.serial = report.identity.chip_public_key, report.serial
        self.counter = report.counter

    def once(self) -> None:
        answer = self.replay.answers()[self.index]
        if not chip_answer_valid(self.point, self.serial, self.counter, self.challenge, answer):
            raise RuntimeError("the chip's answer did not verify")


def through_pcscd(engine: Engine, reader: str,
                  n: int) -> tuple[Latency, Latency, Latency, Latency, Latency]:
    """(the daemon's reader-worker path: the calling thread owns the handle and makes the PC/SC
    calls, watched from outside; the CLI path, every operation handed to the connection's
    watchdog thread; driver replay; raw replay; raw replay plus the chip check).

    The five are timed interleaved, one call of each in turn, so each sees the same machine:
    timed one after another, the raw replay's calls came back to back and found pcscd and the
    card process still awake, which on a loaded machine made it look several times faster.
    The order goes through every permutation of the five in turn, so that each path follows
    each other path equally often (in a fixed order the driver replay always came right after
    the CLI path's thread hand-off)."""
    conn = CountingConnection(PcscConnection(reader, watchdog=False))
    cli = PcscConnection(reader)
    try:
        view = engine.read(conn)
        apdus = list(conn.log)
        replay = RawReplay(reader, apdus)
        try:
            paths = (lambda: engine.read(conn.inner), lambda: engine.read(cli),
                     lambda: driver_replay(conn.inner, apdus), replay.once,
                     CheckedReplay(replay, apdus, view).once)
            samples: list[list[float]] = [[] for _ in paths]
            for k in range(n + 10):  # the first 10 rounds warm up
                for fn, out in order_of_round(list(zip(paths, samples)), k):
                    started = time.perf_counter()
                    fn()
                    if k >= 10:
                        out.append(time.perf_counter() - started)
        finally:
            replay.close()
    finally:
        conn.close()
        cli.close()
    worker, watched, driver, raw, checked = (Latency.of(s) for s in samples)
    return worker, watched, driver, raw, checked


def order_of_round(items: list[T], k: int) -> list[T]:
    """Round ``k``'s order of ``items``: their permutations taken in turn (24 for four, 120 for
    five), so over a whole cycle each item comes right after each other item equally often."""
    orders = list(itertools.permutations(items))
    return list(orders[k % len(orders)])


def _merge(parts: list[Latency]) -> Latency:
    """Median of the rounds' percentiles (each round has the same n)."""
    p50 = sorted(p.p50_ms for p in parts)[len(parts) // 2]
    p99 = sorted(p.p99_ms for p in parts)[len(parts) // 2]
    return Latency(sum(p.n for p in parts), p50, p99)


def run(engine: Engine, image: Path, reader: str | None, n: int, rng: random.Random) -> Section:
    figures = _figures("read in-process", in_process(engine, image, n, rng))
    if reader is None:
        return Section("latency", tuple(figures), (), error="no vpcd reader slot was free")
    direct, watched, driver, raw, checked = through_pcscd(engine, reader, n)
    ratio = direct.p50_ms / raw.p50_ms
    figures += _figures("read via pcscd, reader-worker path", direct)
    figures += _figures("read via pcscd, CLI watchdog thread", watched)
    figures += _figures("driver replay pcscd", driver)
    figures += _figures("raw replay pcscd", raw)
    figures += _figures("raw replay + chip check pcscd", checked)
    figures.append(Figure("read via pcscd", "worker path p50 / raw replay p50", ratio, "x"))
    figures.append(Figure("read via pcscd", "CLI path p50 / raw replay p50",
                          watched.p50_ms / raw.p50_ms, "x"))
    figures.append(Figure("read via pcscd", "worker path p50 / (raw replay + chip check) p50",
                          direct.p50_ms / checked.p50_ms, "x"))
    return Section("latency", tuple(figures), (direct_verdict(direct, raw, checked),))


def direct_verdict(direct: Latency, raw: Latency, checked: Latency) -> Verdict:
    """The target, with a note of what the replay leaves out: the chip's ECDSA check, which
    every read makes afresh (the ratio against the replay that makes it too)."""
    return Verdict("direct read+verify p50 / raw replay p50 (instant)",
                   round(direct.p50_ms / raw.p50_ms, 2), "<=", MAX_OVERHEAD, "x",
                   f"the chip check that every read makes adds "
                   f"{checked.p50_ms - raw.p50_ms:.3f} ms to the raw replay's "
                   f"{raw.p50_ms:.3f} ms; read / (raw replay + chip check) "
                   f"{direct.p50_ms / checked.p50_ms:.2f}x")
