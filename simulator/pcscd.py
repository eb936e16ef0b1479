"""Make sure a pcscd with the vpcd driver runs (tests, bench, demo rigs): reuse a running one,
else start ``pcscd -f`` in the background and stop exactly that one (by PID) afterwards. Never
``-x`` (auto-exit)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

SOCKET = Path("/run/pcscd/pcscd.comm")


def pcscd_answers(path: Path = SOCKET) -> bool:
    """True when something accepts connections on pcscd's socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


class Pcscd:
    """Handle on the pcscd the tests use; ``started`` tells whether we own the process."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def started(self) -> bool:
        return self.process is not None

    def ensure(self, timeout: float = 10.0) -> None:
        if pcscd_answers():
            return
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        SOCKET.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pcscd_answers():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.process.returncode}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("pcscd did not answer on its socket")

    def stop(self) -> None:
        """Stop the pcscd we started (by PID); leave any other one alone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, 9)
                self.process.wait(5)
        self.process = None
