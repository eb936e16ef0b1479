"""Reads and re-signs as a real card sees them.

The simulated cards answer at a :mod:`simulator.timing` profile (``cardsim serve --timing``).
The **floor** of an operation is the modelled time of the APDUs it needs (wire time with T=1
framing, processing and EEPROM writes), taken from a trace of the same operation on an
in-process card of the same shape; the daemon's HTTP figures are divided by it. Then readers in
parallel: reads/s and re-signs (cards/hour) with 1 and 4 readers at ``iso-9600``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from cardservice.engine.operations import Engine, PermitRequest
from cardservice.transport.pcsc import PcscConnection
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection
from simulator.timing import Profile, exchange_seconds, profile

from .cards import MOVE, Bench, issued_image, serial_for
from .counting import CountingConnection
from .daemon import reader_id, running_daemon
from .env import PcscEnv
from .report import Figure, Section, Verdict
from .stats import percentile

logger = logging.getLogger(__name__)

#: Daemon over HTTP end to end, divided by the floor, at most this (p50).
MAX_OVER_FLOOR = {"iso-9600": 1.05, "fast": 1.15}
MIN_PARALLEL_4 = 3.8
PARALLEL_PROFILE = "iso-9600"
#: First card index of this section (other sections use 0..3 and 100..101).
BASE_INDEX = 300
MOVES = ("博乐市新区友谊路8号", "博乐市青得里街道团结路12号")


@dataclass(frozen=True)
class Plan:
    reads: dict[str, int]
    resigns: dict[str, int]
    parallel_reads: int
    parallel_resigns: int


#: The quick run measures writes in parallel in the production section only.
QUICK = Plan({"iso-9600": 2, "fast": 10}, {"iso-9600": 1, "fast": 5}, 1, 0)
FULL = Plan({"iso-9600": 15, "fast": 60}, {"iso-9600": 8, "fast": 30}, 6, 4)


def floors(bench: Bench, engine: Engine, index: int, p: Profile,
           rng: random.Random) -> tuple[float, float, int, int]:
    """(read floor s, re-sign floor s, read APDUs, re-sign APDUs) from an in-process trace of a
    card issued and re-signed like the served ones."""
    image = issued_image(bench, engine, index, resigned=True, rng=rng)
    conn = CountingConnection(InProcessConnection(VirtualCard(image, rng=rng)))
    engine.read(conn)
    read = sum(exchange_seconds(p, a, n) for a, n in conn.exchanges())
    read_apdus = len(conn.log)
    conn.reset()
    engine.resign(conn, MOVE)
    resign = sum(exchange_seconds(p, a, n) for a, n in conn.exchanges())
    return read, resign, read_apdus, len(conn.log)


def _p50(fn: Callable[[], None], n: int, *, warmup: bool = True) -> float:
    if warmup:
        fn()  # warm-up: the daemon's connection to the reader, caches
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentile(samples, 50)


def over_http(bench: Bench, env: PcscEnv, engine: Engine, client: httpx.Client, name: str,
              plan: Plan, rng: random.Random,
              index: int) -> tuple[list[Figure], list[Verdict]]:
    p = profile(name)
    read_floor, resign_floor, n_read, n_resign = floors(bench, engine, index, p, rng)
    image = issued_image(bench, engine, index + 1, resigned=True, rng=rng)
    served = env.serve([image], [serial_for(index + 1)], timing=name)
    if not served:
        raise RuntimeError("no vpcd reader slot was free")
    reader, serial = served[-1].reader, serial_for(index + 1).hex().upper()
    try:
        rid = _listed(client, reader)
        read_s = _p50(lambda: _ok(client.get(f"/v1/readers/{rid}/card")), plan.reads[name])
        moves = iter(MOVES * 1000)
        resign_s = _p50(lambda: _ok(client.post(
            f"/v1/readers/{rid}/card/resign",
            json={"current_residence": next(moves), "card_serial": serial})),
            plan.resigns[name], warmup=False)  # the reads warmed the connection
    finally:
        env.release(served[-1:])
    group = f"card {name}"
    figures = [
        Figure(group, f"read floor ({n_read} APDUs)", read_floor * 1e3, "ms"),
        Figure(group, "HTTP read p50", read_s * 1e3, "ms"),
        Figure(group, f"re-sign floor ({n_resign} APDUs)", resign_floor * 1e3, "ms"),
        Figure(group, "HTTP re-sign p50", resign_s * 1e3, "ms"),
    ]
    limit = MAX_OVER_FLOOR[name]
    verdicts = [Verdict(f"HTTP read / floor ({name})", round(read_s / read_floor, 3), "<=",
                        limit, "x"),
                Verdict(f"HTTP re-sign / floor ({name})", round(resign_s / resign_floor, 3),
                        "<=", limit, "x")]
    return figures, verdicts


def _listed(client: httpx.Client, reader: str, timeout: float = 5.0) -> str:
    """The daemon's id of ``reader`` once its monitor lists it (the card was just served)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return reader_id(client, reader)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: "
                           f"{response.status_code} {response.text[:200]}")


def in_parallel(readers: list[str], work: Callable[[PcscConnection, int], None],
                count: int) -> float:
    """Operations per second with one thread per reader, each doing ``count`` operations."""
    conns = [PcscConnection(r) for r in readers]
    failures: list[BaseException] = []
    start = threading.Barrier(len(readers) + 1)

    def worker(i: int) -> None:
        try:
            start.wait()
            for k in range(count):
                work(conns[i], k)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(readers))]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    for c in conns:
        c.close()
    if failures:
        raise RuntimeError(f"a reader failed during the run: {failures[0]!r}")
    return len(readers) * count / elapsed


def parallel(bench: Bench, env: PcscEnv, engine: Engine, plan: Plan,
             rng: random.Random) -> tuple[list[Figure], list[Verdict]]:
    first = BASE_INDEX + 10
    images = [issued_image(bench, engine, first + i, resigned=True, rng=rng) for i in range(4)]
    before = len(env.served)
    env.serve(images, [serial_for(first + i) for i in range(4)], timing=PARALLEL_PROFILE)
    mine = env.served[before:]
    readers = [s.reader for s in mine]
    try:
        return _parallel_figures(engine, readers, plan)
    finally:
        env.release(mine)


def _parallel_figures(engine: Engine, readers: list[str],
                      plan: Plan) -> tuple[list[Figure], list[Verdict]]:
    if len(readers) < 4:
        raise RuntimeError(f"only {len(readers)} vpcd reader slot(s) free; 4 needed")

    def read(conn: PcscConnection, _: int) -> None:
        engine.read(conn)

    back = PermitRequest(current_residence=MOVES[1])

    def resign(conn: PcscConnection, k: int) -> None:
        engine.resign(conn, MOVE if k % 2 == 0 else back)

    reads = {k: in_parallel(readers[:k], read, plan.parallel_reads) for k in (1, 4)}
    group = f"parallel {PARALLEL_PROFILE}"
    figures = [Figure(group, f"reads/s, {k} reader(s)", reads[k], "/s") for k in (1, 4)]
    verdicts = [Verdict(f"reads 4 readers / 1 ({PARALLEL_PROFILE})",
                        round(reads[4] / reads[1], 2), ">=", MIN_PARALLEL_4, "x")]
    if plan.parallel_resigns:  # the full run; writes in parallel are the production section's
        cards = {k: in_parallel(readers[:k], resign, plan.parallel_resigns) * 3600
                 for k in (1, 4)}
        figures += [Figure(group, f"re-signs per hour, {k} reader(s)", cards[k], "/h")
                    for k in (1, 4)]
        verdicts.append(Verdict(f"re-signs 4 readers / 1 ({PARALLEL_PROFILE})",
                                round(cards[4] / cards[1], 2), ">=", MIN_PARALLEL_4, "x"))
    return figures, verdicts


def run(bench: Bench, engine: Engine, env: PcscEnv, plan: Plan, rng: random.Random) -> Section:
    figures: list[Figure] = []
    verdicts: list[Verdict] = []
    with running_daemon(bench, bench.now, role="operator") as (client, _):
        for i, name in enumerate(MAX_OVER_FLOOR):
            f, v = over_http(bench, env, engine, client, name, plan, rng, BASE_INDEX + 2 * i)
            figures += f
            verdicts += v
    f, v = parallel(bench, env, engine, plan, rng)
    return Section("card timing", tuple(figures + f), tuple(verdicts + v))
