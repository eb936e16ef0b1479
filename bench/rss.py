"""The daemon's resident memory over many card reads: warm-up requests first (not counted), then
a measured window whose least-squares slope is the growth trend.

The daemon's RSS rises while it warms up and then stays flat: about 0.1 MB per 1,000 card reads
up to about 2,000 reads, flat after that (measured over 5,000 reads; GET /v1/health alone does
not raise it). A window that starts inside that warm-up judges the warm-up, not a leak; the
window therefore starts after :data:`WARMUP_REQUESTS`. The requests carry no timing figure, so
they go through a lean stdlib client (the daemon sees the same keep-alive GET), and the warm-up
runs in a background thread while the run prepares later sections (see ``bench/runner.py``)."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from .stats import slope

logger = logging.getLogger(__name__)

#: Card reads before the trend's window starts (the daemon's warm-up, measured: about 2,000).
WARMUP_REQUESTS = 2_000
#: "No growth trend": the window's least-squares slope stays under this (1 MB per 10,000 reads).
MAX_SLOPE_MB_PER_1000 = 0.1


def growth_per_1000(points: Sequence[tuple[int, float]], warmup: int) -> float:
    """MB per 1,000 requests: the least-squares slope of the (requests done, RSS MB) samples
    taken at or after ``warmup`` requests. Needs at least three such samples."""
    window = [(done, mb) for done, mb in points if done >= warmup]
    if len(window) < 3:
        raise ValueError(f"{len(window)} RSS sample(s) after the warm-up; at least 3 needed")
    return slope([d for d, _ in window], [mb for _, mb in window]) * 1000


class LeanClient:
    """One keep-alive HTTP/1.1 connection with a bearer token, for untimed load."""

    def __init__(self, port: int, token: str, path: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.path = path

    def get(self, count: int = 1) -> None:
        """``count`` GETs of the path, each answered 200 or RuntimeError. A keep-alive
        connection the daemon closed while it was idle (its request-head timeout, or uvicorn's
        keep-alive timeout, while the run prepared other sections) is opened again once."""
        for _ in range(count):
            try:
                status, body = self._once()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the next request connects anew
                status, body = self._once()
            if status != 200:
                raise RuntimeError(f"GET {self.path}: {status} {body[:200]!r}")

    def _once(self) -> tuple[int, bytes]:
        self.conn.request("GET", self.path, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


class Warmup(threading.Thread):
    """``requests`` GETs in the background; ``finish`` waits and re-raises a failure."""

    def __init__(self, client: LeanClient, requests: int) -> None:
        super().__init__(name="rss-warmup", daemon=True)
        self.client, self.requests = client, requests
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.client.get(self.requests)
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            self.failure = exc

    def finish(self) -> None:
        self.join()
        if self.failure is not None:
            raise RuntimeError(f"RSS warm-up failed: {self.failure!r}") from self.failure


@dataclass(frozen=True)
class RssSeries:
    """Idle RSS (MB), and (requests done, RSS MB) from the warm-up's end on."""

    idle: float
    warmup: int
    points: tuple[tuple[int, float], ...]

    @property
    def trend(self) -> float:
        return growth_per_1000(self.points, self.warmup)


def window(client: LeanClient, pid: int, warmup: int, requests: int,
           samples: int = 10) -> tuple[tuple[int, float], ...]:
    """The measured window after ``warmup`` requests: RSS at its start and after every
    ``requests / samples`` further requests."""
    process = psutil.Process(pid)
    every = max(requests // samples, 1)
    points = [(warmup, _mb(process))]
    for done in range(every, requests + 1, every):
        client.get(every)
        points.append((warmup + done, _mb(process)))
    return tuple(points)


def _mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20
