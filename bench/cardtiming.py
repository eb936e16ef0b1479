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
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cardservice.engine.operations import Engine, PermitRequest
from cardservice.transport.pcsc import PcscConnection
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection
from simulator.timing import Profile, exchange_seconds, profile

from .cards import MOVE, Bench, issued_image, serial_for
from .counting import CountingConnection
from .daemon import listed_id
from .env import PcscEnv, Served
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


@dataclass
class Prepared:
    """The section's cards and floors, made ready before it runs (untimed set-up): per profile
    its floors and card; the 4 parallel cards; the cards already served (``serve_ahead``)."""

    floors: dict[str, tuple[float, float, int, int]] = field(default_factory=dict)
    cards: dict[str, tuple[Path, bytes]] = field(default_factory=dict)
    parallel: list[tuple[Path, bytes]] = field(default_factory=list)
    served: dict[str, list[Served]] = field(default_factory=dict)
    #: profiles whose card the daemon has read once already (its connection and caches warm)
    warmed: set[str] = field(default_factory=set)


def prepare(bench: Bench, engine: Engine, rng: random.Random) -> Prepared:
    """Issue every card of the section and compute the floors (in-process, no reader)."""
    ready = Prepared()
    for i, name in enumerate(MAX_OVER_FLOOR):
        index = BASE_INDEX + 2 * i
        ready.floors[name] = floors(bench, engine, index, profile(name), rng)
        image = issued_image(bench, engine, index + 1, resigned=True, rng=rng)
        ready.cards[name] = (image, serial_for(index + 1))
    first = BASE_INDEX + 10
    ready.parallel = [(issued_image(bench, engine, first + i, resigned=True, rng=rng),
                       serial_for(first + i)) for i in range(4)]
    return ready


def serve_ahead(env: PcscEnv, ready: Prepared, client: httpx.Client) -> None:
    """Serve what free reader slots allow now: each profile's card (read once by the daemon,
    the warm-up read of its timed part), and the parallel part's cards (the ``iso-9600`` card
    of the timed part is one of its 4) if slots for all of them are left (otherwise they are
    served when their part runs)."""
    for name, card in ready.cards.items():
        mine = serve_new(env, [card], name)
        if mine:
            ready.served[name] = mine
            _ok(client.get(f"/v1/readers/{listed_id(client, mine[0].reader)}/card"))
            ready.warmed.add(name)
    missing = ready.parallel[:4 - len(ready.served.get(PARALLEL_PROFILE, []))]
    if env.free_slots() >= len(missing):
        mine = serve_new(env, missing, PARALLEL_PROFILE)
        if len(mine) == len(missing):
            ready.served["parallel"] = mine
        else:
            env.release(mine)


def serve_new(env: PcscEnv, cards: list[tuple[Path, bytes]], timing: str) -> list[Served]:
    """The cards ``env.serve`` put into readers by this call."""
    before = len(env.served)
    env.serve([image for image, _ in cards], [serial for _, serial in cards], timing=timing)
    return env.served[before:]


def _served(env: PcscEnv, ready: Prepared, key: str, cards: list[tuple[Path, bytes]],
            timing: str) -> list[Served]:
    """The cards of ``key``: served ahead, or served now."""
    return ready.served.pop(key, None) or serve_new(env, cards, timing)


def over_http(env: PcscEnv, client: httpx.Client, name: str, plan: Plan,
              ready: Prepared) -> tuple[list[Figure], list[Verdict]]:
    read_floor, resign_floor, n_read, n_resign = ready.floors[name]
    warm = name not in ready.warmed
    mine = _served(env, ready, name, [ready.cards[name]], name)
    if not mine:
        raise RuntimeError("no vpcd reader slot was free")
    reader, serial = mine[0].reader, ready.cards[name][1].hex().upper()
    try:
        rid = listed_id(client, reader)
        read_s = _p50(lambda: _ok(client.get(f"/v1/readers/{rid}/card")), plan.reads[name],
                      warmup=warm)
        moves = iter(MOVES * 1000)
        resign_s = _p50(lambda: _ok(client.post(
            f"/v1/readers/{rid}/card/resign",
            json={"current_residence": next(moves), "card_serial": serial})),
            plan.resigns[name], warmup=False)  # the reads warmed the connection
    finally:
        if name == PARALLEL_PROFILE and "parallel" in ready.served:
            ready.served["parallel"] += mine  # one of the parallel part's 4 cards
        else:
            env.release(mine)
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


def parallel(env: PcscEnv, engine: Engine, plan: Plan,
             ready: Prepared) -> tuple[list[Figure], list[Verdict]]:
    mine = ready.served.pop("parallel", [])
    if len(mine) < 4:
        mine += serve_new(env, ready.parallel[:4 - len(mine)], PARALLEL_PROFILE)
    try:
        return _parallel_figures(engine, [s.reader for s in mine], plan)
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


def run(engine: Engine, env: PcscEnv, plan: Plan, client: httpx.Client,
        ready: Prepared) -> Section:
    """``ready``: from :func:`prepare` (its cards maybe served ahead by :func:`serve_ahead`)."""
    figures: list[Figure] = []
    verdicts: list[Verdict] = []
    try:
        for name in MAX_OVER_FLOOR:
            f, v = over_http(env, client, name, plan, ready)
            figures += f
            verdicts += v
        f, v = parallel(env, engine, plan, ready)
    finally:
        for mine in ready.served.values():  # served ahead and not used (a part failed)
            env.release(mine)
    return Section("card timing", tuple(figures + f), tuple(verdicts + v))
