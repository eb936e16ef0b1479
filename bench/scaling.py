"""Throughput of read+verify with 1, 2 and 4 readers in use at once (one thread and one
PcscConnection per reader, one shared Engine as in the daemon).

The three counts are taken in interleaved rounds (1, 2, 4 readers, again, ...), each reader
count's reads and time summed over its rounds. One reader's rate is bound by the latency of its
chain of wake-ups (7 PC/SC calls per read, each a round trip through pcscd, 5 of them on to the
card process), so it drops several-fold whenever other work holds the cores; timed in one window
each, the counts met different machines (docs/benchmarks.md, "Fourth round")."""

from __future__ import annotations

import logging
import os
import threading
import time

from cardservice.engine.operations import Engine
from cardservice.transport.pcsc import PcscConnection

from .report import Figure, Section, Verdict

logger = logging.getLogger(__name__)

MIN_SCALING_4 = 3.5
#: interleaved rounds the section's time per reader count is split into
ROUNDS = 5


def throughput(engine: Engine, readers: list[str], seconds: float) -> float:
    """Reads per second over all ``readers`` together during ``seconds``."""
    reads, elapsed = _count_reads(engine, readers, seconds)
    return reads / elapsed


def interleaved(engine: Engine, readers: list[str], counts: list[int], seconds: float,
                rounds: int = ROUNDS) -> dict[int, float]:
    """Reads per second with each number of readers in ``counts``, measured in ``rounds``
    interleaved windows of ``seconds / rounds`` each (reads and time summed per count)."""
    totals = {k: [0, 0.0] for k in counts}
    for _ in range(rounds):
        for k in counts:
            reads, elapsed = _count_reads(engine, readers[:k], seconds / rounds)
            totals[k][0] += reads
            totals[k][1] += elapsed
    return {k: reads / elapsed for k, (reads, elapsed) in totals.items()}


def _count_reads(engine: Engine, readers: list[str], seconds: float) -> tuple[int, float]:
    """(reads done, seconds elapsed) with all ``readers`` reading at once for ``seconds``."""
    conns = [PcscConnection(r) for r in readers]
    counts = [0] * len(readers)
    start = threading.Barrier(len(readers) + 1)
    stop = threading.Event()
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            engine.read(conns[i])
            start.wait()
            while not stop.is_set():
                engine.read(conns[i])
                counts[i] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(readers))]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(10)
    elapsed = time.perf_counter() - began
    for c in conns:
        c.close()
    if failures:
        raise RuntimeError(f"a reader failed during the run: {failures[0]!r}")
    return sum(counts), elapsed


def run(engine: Engine, readers: list[str], seconds: float) -> Section:
    if not readers:
        return Section("scaling", error="no vpcd reader slot was free")
    figures = [Figure("scaling", "CPU cores available", os.cpu_count() or 0, "", better="none")]
    rates = interleaved(engine, readers, [k for k in (1, 2, 4) if k <= len(readers)], seconds)
    for k, rate in rates.items():
        figures.append(Figure("scaling", f"reads/s with {k} reader(s)", rate, "/s"))
    for k, rate in rates.items():
        if k > 1:
            figures.append(Figure("scaling", f"{k} readers / 1 reader", rate / rates[1], "x",
                                  better="higher"))
    if 4 not in rates:
        return Section("scaling", tuple(figures),
                       error=f"only {len(readers)} vpcd reader slot(s) free; 4 needed")
    cores = os.cpu_count() or 1
    note = "" if cores >= 4 else (
        f"cannot be met here: {cores} CPU cores run the readers' Python, pcscd and the 4 card "
        f"simulators, so at most about {cores}x; the target needs at least 4 cores")
    verdict = Verdict("throughput 4 readers / 1 reader (instant)", round(rates[4] / rates[1], 2),
                      ">=", MIN_SCALING_4, "x", note)
    return Section("scaling", tuple(figures), (verdict,))
