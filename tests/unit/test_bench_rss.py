"""The daemon RSS trend of the bench (bench/rss.py) on synthetic series: a warm-up that the
window leaves out passes, a steady leak fails. No daemon, no timing."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.report import Verdict
from bench.rss import (
    MAX_SLOPE_MB_PER_1000,
    WARMUP_REQUESTS,
    LeanClient,
    RssSeries,
    growth_per_1000,
    window,
)

PAGE_MB = 4096 / 2**20


def _verdict(points: list[tuple[int, float]], warmup: int = WARMUP_REQUESTS) -> Verdict:
    return Verdict("trend", growth_per_1000(points, warmup), "<=", MAX_SLOPE_MB_PER_1000, "")


def _series(mb_at, start: int = 100, stop: int = 3_000, every: int = 100):
    return [(done, mb_at(done)) for done in range(start, stop + 1, every)]


def test_flat_after_a_warm_up_step_passes() -> None:
    # +0.8 MB at request 500 (caches, first reader connection), then flat but for page jitter
    points = _series(lambda d: 76.0 + (0.8 if d >= 500 else 0.0) + PAGE_MB * (d // 100 % 2))
    assert _verdict(points).passed
    assert abs(growth_per_1000(points, WARMUP_REQUESTS)) < 0.01


def test_the_measured_warm_up_ramp_is_left_out() -> None:
    # as measured: about 0.1 MB per 1,000 reads up to 2,000 reads, flat after
    ramp = lambda d: 77.1 + 0.1 * min(d, 2_000) / 1000
    points = _series(ramp)
    assert _verdict(points).passed
    assert growth_per_1000(points, WARMUP_REQUESTS) == pytest.approx(0.0, abs=1e-9)
    # the old quick window (1,500 reads, slope from 1,000 on) judged the ramp: at the limit
    old = _series(ramp, start=150, stop=1_500, every=150)
    assert growth_per_1000(old, 1_000) == pytest.approx(MAX_SLOPE_MB_PER_1000)


def test_a_steady_leak_fails() -> None:
    points = _series(lambda d: 76.0 + 0.5 * d / 1000)
    assert growth_per_1000(points, WARMUP_REQUESTS) == pytest.approx(0.5)
    assert not _verdict(points).passed


def test_a_leak_behind_a_warm_up_step_fails() -> None:
    points = _series(lambda d: 76.0 + (0.8 if d >= 500 else 0.0) + 0.2 * d / 1000,
                     stop=10_000, every=800)
    assert growth_per_1000(points, WARMUP_REQUESTS) == pytest.approx(0.2)
    assert not _verdict(points).passed


def test_too_few_samples_after_the_warm_up_is_an_error() -> None:
    with pytest.raises(ValueError):
        growth_per_1000([(1_900, 76.0), (2_000, 76.0), (2_100, 76.0)], 2_000)


def test_series_trend_uses_its_warm_up() -> None:
    series = RssSeries(75.0, 2_000, ((2_000, 76.0), (2_500, 76.5), (3_000, 77.0)))
    assert series.trend == pytest.approx(1.0)


class _Counter:
    def __init__(self) -> None:
        self.sent = 0

    def get(self, count: int = 1) -> None:
        self.sent += count


def test_window_samples_after_the_warm_up() -> None:
    client = _Counter()
    points = window(client, os.getpid(), 2_000, 1_000, samples=10)
    assert client.sent == 1_000
    assert [done for done, _ in points] == list(range(2_000, 3_001, 100))
    assert all(mb > 0 for _, mb in points)


class _OneRequestPerConnection(BaseHTTPRequestHandler):
    """Answers 200 over HTTP/1.1 without "Connection: close", then closes the connection: a
    server that dropped an idle keep-alive connection, as the daemon does after its timeouts."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


def test_lean_client_opens_a_connection_the_server_closed_again() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OneRequestPerConnection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = LeanClient(server.server_address[1], "token", "/v1/health")
    try:
        client.get(3)  # every request after the first finds its connection closed
        assert client.conn.sock is not None
    finally:
        client.close()
        server.shutdown()
        server.server_close()
