"""The daemon as a real uvicorn process: GET /v1/readers/{id}/card over HTTP (keep-alive httpx
client) against the same read called directly, and the daemon's resident memory."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import psutil

from cardservice.engine.operations import Engine
from cardservice.store.tokens import TokenStore
from cardservice.transport.pcsc import PcscConnection

from .cards import Bench
from .report import Figure, Section, Verdict
from .stats import Latency, slope, time_interleaved

logger = logging.getLogger(__name__)

#: HTTP read minus the direct read, beyond the daemon's own GET /v1/health (same run), at p50.
MAX_BEYOND_HEALTH_MS = 0.3
MAX_IDLE_RSS_MB = 80.0
#: "No growth trend": after the warm-up requests, the least-squares slope of the RSS samples
#: stays under this (1 MB per 10,000 requests).
MAX_RSS_SLOPE_MB_PER_1000 = 0.1
WARMUP_REQUESTS = 1_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_daemon(bench: Bench, now: datetime,
                   role: str = "reader") -> Iterator[tuple[httpx.Client, int]]:
    """``cardservice serve`` on a free loopback port; yields a keep-alive client (a token of
    ``role``) and the daemon's PID."""
    store = TokenStore(bench.home.tokens_db)
    name = f"bench-{role}-{len(store.list())}"
    secret, _ = store.create(name, role, now)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from cardservice.cli.main import main; main()",
                             "--home", str(bench.home.root), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20,
                          headers={"Authorization": f"Bearer {secret}"})
    try:
        _wait_up(client, proc)
        yield client, proc.pid
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


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
        time.sleep(0.1)
    raise RuntimeError("the daemon did not answer /v1/health")


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
        d1, http, d2, floor = time_interleaved((direct, over_http, direct, health), n)
        h, d, f = Latency.of(http), Latency.of(d1 + d2), Latency.of(floor)
    finally:
        conn.close()
    return [Figure("HTTP read", f"GET card p50 (n={h.n})", h.p50_ms, "ms"),
            Figure("HTTP read", "GET card p99", h.p99_ms, "ms"),
            Figure("HTTP read", f"direct Engine.read p50 (n={d.n})", d.p50_ms, "ms"),
            Figure("HTTP read", "GET /v1/health p50 (HTTP floor)", f.p50_ms, "ms"),
            Figure("HTTP read", "added by HTTP at p50", h.p50_ms - d.p50_ms, "ms"),
            Figure("HTTP read", "added by HTTP beyond the health floor at p50",
                   h.p50_ms - d.p50_ms - f.p50_ms, "ms")]


def rss_trend(client: httpx.Client, rid: str, pid: int, requests: int,
              samples: int = 10) -> tuple[float, list[tuple[int, float]]]:
    """(idle RSS in MB, [(requests done, RSS MB)] sampled every requests/samples)."""
    process = psutil.Process(pid)
    idle = process.memory_info().rss / 2**20
    every = requests // samples
    points = []
    for done in range(1, requests + 1):
        response = client.get(f"/v1/readers/{rid}/card")
        if response.status_code != 200:
            raise RuntimeError(f"request {done} failed: {response.status_code}")
        if done % every == 0:
            points.append((done, process.memory_info().rss / 2**20))
    return idle, points


def run(bench: Bench, engine: Engine, reader: str | None, now: datetime, n: int,
        requests: int) -> Section:
    if reader is None:
        return Section("daemon", error="no vpcd reader slot was free")
    with running_daemon(bench, now) as (client, pid):
        rid = reader_id(client, reader)
        time.sleep(1.0)  # let start-up work (first reader poll) settle before "idle"
        idle, points = rss_trend(client, rid, pid, requests)
        figures = http_vs_direct(client, rid, engine, reader, n)
    later = [p for p in points if p[0] >= WARMUP_REQUESTS]
    trend = slope([p[0] for p in later], [p[1] for p in later]) * 1000
    figures += [Figure("daemon RSS", "idle", idle, "MB")]
    figures += [Figure("daemon RSS", f"after {done:,} requests", mb, "MB") for done, mb in points]
    figures.append(Figure("daemon RSS", f"slope from {later[0][0]:,} requests on", trend,
                          "MB/1000 req"))
    beyond = next(f.value for f in figures
                  if f.name == "added by HTTP beyond the health floor at p50")
    verdicts = (
        Verdict("HTTP read - direct read - GET /v1/health, p50", round(beyond, 3), "<=",
                MAX_BEYOND_HEALTH_MS, "ms"),
        Verdict("daemon RSS idle", round(idle, 1), "<=", MAX_IDLE_RSS_MB, "MB"),
        Verdict(f"daemon RSS growth trend over {requests:,} requests", round(trend, 3), "<=",
                MAX_RSS_SLOPE_MB_PER_1000, "MB/1000 req"),
    )
    return Section("daemon", tuple(figures), verdicts)
