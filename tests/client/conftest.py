"""The real daemon (uvicorn process over a demo data directory) and a simulated card served
through pcscd + vpcd, shared by the client tests of a module."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import serve_image_process
from tests.reliability.daemon import DaemonProcess, make_home

SERIAL = "52503100000000C7"


@dataclass
class Served:
    reader: str
    image: Path
    process: subprocess.Popen


@pytest.fixture(scope="module")
def served(pcscd, tmp_path_factory) -> Iterator[Served]:
    image = tmp_path_factory.mktemp("card") / "card.json"
    subprocess.run([sys.executable, "-m", "simulator", "new", str(image), "--serial", SERIAL],
                   check=True)
    proc, reader = serve_image_process(image)
    try:
        yield Served(reader, image, proc)
    finally:
        proc.terminate()
        proc.wait(5)
        time.sleep(0.6)  # let pcscd notice the removal


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[DaemonProcess]:
    root = tmp_path_factory.mktemp("daemon")
    home = root / "home"
    process = DaemonProcess(home, make_home(home), root / "daemon.log").start()
    try:
        yield process
    finally:
        process.stop()
