"""Run-time control of a served card: a Unix socket next to the image (IMAGE + ".ctl").

One request per connection: a text line such as ``cut-after 3``; the answer is one line,
``ok ...`` or ``error ...``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from .vpcd import VpcdBridge

logger = logging.getLogger(__name__)

USAGE = ("remove | insert | cut-after N | cut-in-update K [NTH] | mute [AFTER] | unmute | "
         "sw XXXX [INS] [TIMES] | clear | status")


def control_path(image: Path) -> Path:
    return Path(str(image) + ".ctl")


def execute(bridge: VpcdBridge, line: str) -> str:
    """Apply one control command to the served card; return the answer line."""
    words = line.split()
    if not words:
        return f"error usage: {USAGE}"
    try:
        return "ok " + _apply(bridge, words[0], words[1:])
    except (ValueError, IndexError) as exc:
        return f"error {exc or 'bad arguments'}; usage: {USAGE}"


def _apply(bridge: VpcdBridge, verb: str, args: list[str]) -> str:
    faults, card = bridge.card.faults, bridge.card
    actions: dict[str, Callable[[], object]] = {
        "remove": bridge.remove,
        "insert": bridge.insert,
        "cut-after": lambda: faults.cut_power_after(int(args[0])),
        "cut-in-update": lambda: faults.cut_power_in_update(
            int(args[1]) if len(args) > 1 else 1, int(args[0])),
        "mute": lambda: faults.mute(int(args[0]) if args else 0),
        "unmute": bridge.unmute,
        "sw": lambda: faults.answer_sw(int(args[0], 16), int(args[1], 16) if len(args) > 1
                                       else None, int(args[2]) if len(args) > 2 else 1),
        "clear": faults.clear,
        "status": lambda: None,
    }
    if verb not in actions:
        raise ValueError(f"unknown command {verb!r}")
    actions[verb]()
    return (f"{verb} present={card.present} powered={card.powered} muted={faults.muted} "
            f"apdus={card.apdu_count} updates={card.update_count}")


class ControlServer:
    """Serves :func:`execute` on a Unix socket (mode 0600) in a background thread."""

    def __init__(self, bridge: VpcdBridge, path: Path) -> None:
        self.bridge, self.path = bridge, Path(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._run, name="cardsim-ctl", daemon=True)

    def start(self) -> ControlServer:
        if self.path.exists():
            self.path.unlink()
        self._sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self._sock.listen(4)
        self._thread.start()
        return self

    def close(self) -> None:
        self._sock.close()
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                line = conn.makefile("r", encoding="utf-8").readline()
                answer = execute(self.bridge, line)
                logger.info("control %r -> %s", line.strip(), answer)
                conn.sendall((answer + "\n").encode())


def send_control(path: Path, line: str, timeout: float = 5.0) -> str:
    """Client side: send one command line, return the answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line.strip().encode() + b"\n")
        return sock.makefile("r", encoding="utf-8").readline().strip()
