"""The daemon as a real uvicorn process: GET /v1/readers/{id}/card over HTTP (keep-alive httpx
client) against the same read called directly, and the daemon's resident memory (idle, over
many reads, and once it has drawn the card's face).

One daemon serves the daemon and card timing sections: it is started while the cards are
served (both are set-up), and the run waits until it answers before the first timed section.
An idle daemon wakes about once a second (its reader monitor's bounded wait); it does no card
I/O until asked."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import psutil

from cardservice.engine.operations import Engine
from cardservice.store.tokens import TokenStore
from cardservice.transport.pcsc import PcscConnection

from .cards import Bench
from .report import Figure, Section, Verdict
from .rss import MAX_SLOPE_MB_PER_1000, WARMUP_REQUESTS, LeanClient, RssSeries, Warmup, window
from .stats import Latency, time_interleaved

logger = logging.getLogger(__name__)

#: HTTP read minus the direct read, beyond the daemon's own GET /v1/health (same run), at p50.
MAX_BEYOND_HEALTH_MS = 0.3
MAX_IDLE_RSS_MB = 80.0
#: untimed rounds before the HTTP figures
HTTP_WARMUP = 10
#: The idle RSS is taken at least this long after the daemon first answered (start-up settled).
SETTLE_S = 1.0
ROLES = ("reader", "operator")
#: The face requests after the RSS window: each draws the card (both sides of the PDF, the
#: front of the PNG), which opens the layout's fonts for drawing in the daemon.
FACE_PATHS = ("face.pdf?side=both", "face.png?side=front")
FACE_ROUNDS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daemon:
    """``cardservice serve`` on a free loopback port, with a token per role of :data:`ROLES`.
    ``ready`` waits (once) until it answers; a failure to start is kept and raised again to
    every section that asks."""

    def __init__(self, bench: Bench, now: datetime) -> None:
        store = TokenStore(bench.home.tokens_db)
        self.secrets = {}
        for role in ROLES:
            self.secrets[role], _ = store.create(f"bench-{role}-{len(store.list())}", role, now)
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from cardservice.cli.main import main; main()",
             "--home", str(bench.home.root), "serve", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.up_at: float | None = None
        self.failure: RuntimeError | None = None
        self.clients: list[httpx.Client] = []
        #: clients kept for several sections, by name
        self.named: dict[str, httpx.Client] = {}

    @property
    def pid(self) -> int:
        return self.proc.pid

    def client(self, role: str) -> httpx.Client:
        client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=20,
                              headers={"Authorization": f"Bearer {self.secrets[role]}"})
        self.clients.append(client)
        return client

    def lean(self, role: str, path: str) -> LeanClient:
        return LeanClient(self.port, self.secrets[role], path)

    def ready(self, timeout: float = 20.0) -> None:
        if self.up_at is None and self.failure is None:
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{self.port}") as probe:
                    _wait_up(probe, self.proc, timeout)
                self.up_at = time.monotonic()
            except RuntimeError as exc:
                self.failure = exc
        if self.failure is not None:
            raise self.failure

    def settled(self) -> None:
        """Ready, and at least :data:`SETTLE_S` since it first answered (normally long past:
        the latency section ran in between)."""
        self.ready()
        time.sleep(max(0.0, self.up_at + SETTLE_S - time.monotonic()))

    def stop(self) -> None:
        """Close the clients and ask the daemon to exit (``close`` waits for it)."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        self.named.clear()
        if self.proc.poll() is None:
            self.proc.terminate()

    def close(self) -> None:
        self.stop()
        if self.proc.returncode is None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _wait_up(client: httpx.Client, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}")
        try:
            if client.get("/v1/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the daemon did not answer /v1/health")


def listed_id(client: httpx.Client, reader: str, timeout: float = 5.0) -> str:
    """The daemon's id of ``reader`` once its monitor lists it (the card may just be served)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return reader_id(client, reader)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def reader_id(client: httpx.Client, reader: str) -> str:
    response = client.get("/v1/readers")
    if response.status_code != 200:
        raise RuntimeError(f"GET /v1/readers: {response.status_code} {response.text[:200]}")
    for entry in response.json():
        if entry["name"] == reader:
            return entry["id"]
    raise RuntimeError(f"the daemon does not list {reader!r}")


def http_vs_direct(client: httpx.Client, rid: str, engine: Engine, reader: str,
                   n: int) -> list[Figure]:
    """The HTTP read, the direct read and ``GET /v1/health``, timed interleaved: direct, HTTP,
    direct, health, so that both daemon requests come after the same pause (a direct read).
    Timed in blocks, the three met different load on the shared cores and the difference of
    their p50s swung by milliseconds from run to run."""
    def over_http() -> None:
        response = client.get(f"/v1/readers/{rid}/card")
        if response.status_code != 200 or response.json()["verification"]["status"] != "valid":
            raise RuntimeError(f"HTTP read failed: {response.status_code} {response.text[:200]}")

    def health() -> None:
        if client.get("/v1/health").status_code != 200:
            raise RuntimeError("GET /v1/health failed")

    # the daemon's own card path: the calling thread makes the PC/SC calls (no watchdog hop)
    conn = PcscConnection(reader, watchdog=False)

    def direct() -> None:
        engine.read(conn)

    try:
        d1, http, d2, floor = time_interleaved((direct, over_http, direct, health), n,
                                               warmup=HTTP_WARMUP)
        h, d, f = Latency.of(http), Latency.of(d1 + d2), Latency.of(floor)
    finally:
        conn.close()
    return [Figure("HTTP read", f"GET card p50 (n={h.n})", h.p50_ms, "ms"),
            Figure("HTTP read", "GET card p99", h.p99_ms, "ms"),
            Figure("HTTP read", f"direct Engine.read p50 (n={d.n})", d.p50_ms, "ms"),
            Figure("HTTP read", "GET /v1/health p50 (HTTP floor)", f.p50_ms, "ms"),
            # differences near zero: --compare measures their change against the HTTP floor
            Figure("HTTP read", "added by HTTP at p50", h.p50_ms - d.p50_ms, "ms",
                   scale=f.p50_ms),
            Figure("HTTP read", "added by HTTP beyond the health floor at p50",
                   h.p50_ms - d.p50_ms - f.p50_ms, "ms", scale=f.p50_ms)]


def rss_series(daemon: Daemon, rid: str, warmup: int, window_reads: int,
               prepare: Callable[[], None], between: Callable[[], None],
               between_reads: int) -> RssSeries:
    """Idle RSS; card reads in the background while ``prepare()`` runs (untimed set-up of later
    sections); ``between()`` alone (the timed HTTP figures: ``between_reads`` card reads of
    their own), so that at least ``warmup`` card reads come before the window; then the
    measured window of ``window_reads`` reads with nothing else running."""
    idle = psutil.Process(daemon.pid).memory_info().rss / 2**20
    lean = daemon.lean("reader", f"/v1/readers/{rid}/card")
    background_reads = max(warmup - between_reads, 0)
    try:
        started = time.perf_counter()
        background = Warmup(lean, background_reads)
        background.start()
        try:
            prepare()
            logger.info("set-up during the RSS warm-up took %.1f s", time.perf_counter() - started)
        finally:
            background.finish()
        logger.info("RSS warm-up: %d requests in %.1f s", background_reads,
                    time.perf_counter() - started)
        between()
        started = time.perf_counter()
        points = window(lean, daemon.pid, background_reads + between_reads, window_reads)
        logger.info("RSS window: %d requests in %.1f s", window_reads,
                    time.perf_counter() - started)
    finally:
        lean.close()
    return RssSeries(idle, background_reads + between_reads, points)


def run(daemon: Daemon, engine: Engine, reader: str | None, n: int, requests: int,
        prepare: Callable[[], None] = lambda: None) -> Section:
    """The HTTP figures are taken after the background warm-up reads and count as the last
    part of the warm-up (they read the card over HTTP ``n`` + :data:`HTTP_WARMUP` times)."""
    if reader is None:
        return Section("daemon", error="no vpcd reader slot was free")
    daemon.settled()
    client = daemon.client("reader")
    rid = listed_id(client, reader)
    warmup = min(WARMUP_REQUESTS, requests - requests // 3)  # 2,000 in the full and quick run
    figures: list[Figure] = []
    series = rss_series(daemon, rid, warmup, requests - warmup, prepare,
                        lambda: figures.extend(http_vs_direct(client, rid, engine, reader, n)),
                        n + HTTP_WARMUP)
    figures += _rss_figures(series) + face_rss(daemon, rid, series.points[-1][1])
    return Section("daemon", tuple(figures), _verdicts(figures, series))


def face_rss(daemon: Daemon, rid: str, before: float) -> list[Figure]:
    """The daemon's RSS after :data:`FACE_ROUNDS` rounds of the card's face as PDF and PNG: a
    daemon that prints keeps what drawing needs (a figure, no target)."""
    lean = [daemon.lean("reader", f"/v1/readers/{rid}/card/{path}") for path in FACE_PATHS]
    try:
        started = time.perf_counter()
        for _ in range(FACE_ROUNDS):
            for client in lean:
                client.get()
        logger.info("face requests: %.2f s", time.perf_counter() - started)
    finally:
        for client in lean:
            client.close()
    after = psutil.Process(daemon.pid).memory_info().rss / 2**20
    return [Figure("daemon RSS", f"after {FACE_ROUNDS} faces as PDF and PNG", after, "MB"),
            Figure("daemon RSS", "added by drawing the faces", after - before, "MB",
                   scale=before)]


def _rss_figures(series: RssSeries) -> list[Figure]:
    figures = [Figure("daemon RSS", "idle", series.idle, "MB")]
    figures += [Figure("daemon RSS", f"after {done:,} requests", mb, "MB")
                for done, mb in series.points]
    figures.append(Figure("daemon RSS", f"slope from {series.warmup:,} requests on",
                          series.trend, "MB/1000 req"))
    return figures


def _verdicts(figures: list[Figure], series: RssSeries) -> tuple[Verdict, ...]:
    beyond = next(f for f in figures
                  if f.name == "added by HTTP beyond the health floor at p50")
    measured = series.points[-1][0] - series.warmup
    return (
        Verdict("HTTP read - direct read - GET /v1/health, p50", round(beyond.value, 3), "<=",
                MAX_BEYOND_HEALTH_MS, "ms", scale=beyond.scale),
        Verdict("daemon RSS idle", round(series.idle, 1), "<=", MAX_IDLE_RSS_MB, "MB"),
        Verdict(f"daemon RSS growth trend, {measured:,} requests after {series.warmup:,}",
                round(series.trend, 3), "<=", MAX_SLOPE_MB_PER_1000, "MB/1000 req"),
    )
