"""The daemon as a real process (`cardservice serve` on uvicorn) for fault tests: started on a
free loopback port over a data directory, stopped or killed by its PID only."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from cardservice.pki.keys import DataDir, init_demo
from cardservice.store.tokens import TokenStore
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.vpcd import VpcdBridge
from tests.conftest import serve_card, wait_card_state

#: Short bounds so that fault tests finish quickly (seconds).
TIMEOUTS = {"CARDSERVICE_PCSC_TIMEOUT": "2", "CARDSERVICE_OPERATION_TIMEOUT": "4",
            "CARDSERVICE_READ_WAIT": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_home(home: Path) -> str:
    """Demo keys in ``home`` and an admin token; returns the token's secret."""
    now = datetime.now(UTC)
    init_demo(DataDir(home), now=now, masters=load_dev_master_keys())
    return TokenStore(home / "tokens.db").create("reliability", "admin", now)[0]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass
class DaemonProcess:
    home: Path
    secret: str
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)  # more CARDSERVICE_* settings
    prefix: list[str] = field(default_factory=list)  # a wrapper command, e.g. prlimit

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 15.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.secret}"})

    def start(self) -> DaemonProcess:
        env = {**os.environ, **TIMEOUTS, **self.env}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-c", "from cardservice.cli.main import main; main()",
                 "--home", str(self.home), "serve", "--port", str(self.port)],
                stderr=log, stdout=subprocess.DEVNULL, env=env, start_new_session=True)
        wait_until(self._answers, 20, "the daemon to answer /v1/health")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"daemon exited with {self.process.returncode}: "
                                 f"{self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def health(self) -> dict:
        return httpx.get(f"{self.url}/v1/health", timeout=2).json()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None


@contextmanager
def fresh_daemon(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[DaemonProcess]:
    """A daemon on a new data directory under ``tmp_path``, stopped at the end."""
    home = tmp_path / "home"
    proc = DaemonProcess(home, make_home(home), tmp_path / "daemon.log", env=env or {}).start()
    try:
        yield proc
    finally:
        proc.stop()


def blank_image(tmp_path: Path, serial: str) -> Path:
    """A blank card image with ``serial`` (hex) under ``tmp_path``, saved."""
    image = CardImage.blank(bytes.fromhex(serial), load_dev_master_keys(),
                            tmp_path / f"{serial}.json")
    image.save()
    return image.path


@contextmanager
def served_blank_card(tmp_path: Path, serial: str, seed: int) -> Iterator[tuple[VpcdBridge, str]]:
    """A blank card served into the first empty virtual reader; taken out again at the end."""
    bridge, reader = serve_card(VirtualCard(blank_image(tmp_path, serial), random.Random(seed)))
    try:
        yield bridge, reader
    finally:
        bridge.stop()
        wait_card_state(reader, present=False)
