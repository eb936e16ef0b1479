"""The PC/SC side of a run: a pcscd (reused, or started and stopped by us) and simulated cards
served into free vpcd reader slots by ``cardsim serve`` subprocesses."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cardservice.card.protocol import Rp1Card
from cardservice.errors import CardServiceError
from cardservice.transport.pcsc import PcscConnection
from simulator.pcscd import Pcscd
from simulator.vpcd import reader_name_for_port

from .rawpcsc import present_readers

logger = logging.getLogger(__name__)

#: The 16 vpcd ports scripts/install-system-deps.sh sets up (CARDSIM_VPCD_PORTS narrows them).
VPCD_PORTS = tuple(int(p) for p in os.environ.get(
    "CARDSIM_VPCD_PORTS", ",".join(str(p) for p in range(35963, 35979))).split(","))


@dataclass
class Served:
    """One card served by a ``cardsim serve`` process, and the reader pcscd shows it in."""

    image: Path
    port: int
    reader: str
    process: subprocess.Popen


@dataclass
class PcscEnv:
    """Owns what it started: maybe pcscd, and the cardsim processes. ``close`` stops only those."""

    pcscd: Pcscd = field(default_factory=Pcscd)
    served: list[Served] = field(default_factory=list)

    def ensure_pcscd(self, timeout: float = 10.0) -> None:
        self.pcscd.ensure(timeout)

    def serve(self, images: list[Path], serials: list[bytes],
              timing: str = "instant") -> list[Served]:
        """Serve each image on a free vpcd port (its card answering at the ``timing`` profile);
        as many as there are free reader slots. The cards start at once (each ``cardsim``
        process takes most of a second to start); a port that takes no card within 3 s (in use
        by someone else) is skipped and its card tried on the next free port."""
        free = [p for p in VPCD_PORTS if p not in {s.port for s in self.served}]
        pending = list(zip(images, serials))
        while pending and free:
            ports, free = free[:len(pending)], free[len(pending):]
            started = [(image, serial, port, _cardsim(["serve", str(image)], port, timing))
                       for (image, serial), port in zip(pending, ports)]
            pending = []
            for image, serial, port, proc in started:
                reader = reader_name_for_port(port)
                if _wait(proc, 3.0, lambda r=reader, s=serial: _holds(r, s)):
                    self.served.append(Served(image, port, reader, proc))
                    continue
                logger.info("vpcd port %d did not take a card (in use by someone else?)", port)
                _stop(proc)
                pending.append((image, serial))
        return list(self.served)

    def free_slots(self) -> int:
        """vpcd ports this run has not served a card into."""
        return len([p for p in VPCD_PORTS if p not in {s.port for s in self.served}])

    def feed(self, folder: Path, count: int, timing: str = "instant") -> Served | None:
        """A ``cardsim serve --feeder folder --count N`` stack on a free vpcd port (the next
        blank card goes in when the previous one is ejected); None if no port took it."""
        fed = self.feed_many([folder], count, timing)
        return fed[0] if fed else None

    def feed_many(self, folders: list[Path], count: int,
                  timing: str = "instant") -> list[Served]:
        """One fed stack per folder, started at once (as many as free reader slots take)."""
        present = present_readers()  # a reader with someone else's card in it is not free
        free = [p for p in VPCD_PORTS if p not in {s.port for s in self.served}
                and reader_name_for_port(p) not in present]
        fed = []
        for folder, port in zip(folders, free):
            proc = _cardsim(["serve", "--feeder", str(folder), "--count", str(count)], port,
                            timing)
            fed.append((folder, port, proc))
        served = []
        for folder, port, proc in fed:
            reader = reader_name_for_port(port)
            if _wait(proc, 5.0, lambda r=reader: r in present_readers()):
                served.append(Served(folder, port, reader, proc))
                continue
            logger.info("vpcd port %d did not take the feeder (in use by someone else?)", port)
            _stop(proc)
        self.served += served
        return served

    def release(self, served: list[Served], timeout: float = 5.0) -> None:
        """Take these cards out; back once pcscd shows their readers empty (their slots free
        again for the next ``serve``/``feed``), or after ``timeout`` seconds."""
        served = [s for s in served if s in self.served]  # not those released before
        for s in served:
            _stop(s.process)
            self.served.remove(s)
        readers = {s.reader for s in served}
        deadline = time.monotonic() + timeout
        while readers & present_readers() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.release(list(self.served))
        self.pcscd.stop()  # only if this run started it


def _cardsim(args: list[str], port: int, timing: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator", *args, "--port", str(port),
                             "--timing", timing],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(proc: subprocess.Popen, timeout: float, ready) -> bool:
    """Poll ``ready()`` every 0.05 s until it holds, ``proc`` exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            return True
        time.sleep(0.05)
    return False


def _holds(reader: str, serial: bytes) -> bool:
    try:
        with PcscConnection(reader, timeout=2.0) as conn:
            return Rp1Card(conn).select().serial == serial
    except CardServiceError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
