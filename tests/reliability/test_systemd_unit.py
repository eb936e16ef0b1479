"""The systemd unit's resource bounds (issue 11, point 3) where systemd is not PID 1: the unit
passes ``systemd-analyze verify``, and the real daemon, run under the unit's own LimitNOFILE
(applied with prlimit, the value read from the unit file), survives more connections than it has
file descriptors: the connection cap refuses the excess and /v1/health answers after the flood.
MemoryHigh and MemoryMax need the cgroup systemd would create for the service; here the daemon's
resident memory after the flood is only compared with them, not enforced."""

from __future__ import annotations

import resource
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cardservice.config import Settings
from tests.unit.test_ops_unit import UNIT, _bytes, _service

from .daemon import DaemonProcess, make_home, wait_until

INSTALLED_EXEC = "ExecStart=/opt/cardservice/.venv/bin/cardservice"


def _verify(unit: Path) -> str:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: scripts/install-system-deps.sh installs systemd"
    r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60,
                       check=False)
    return f"{r.returncode}\n{r.stdout}{r.stderr}".strip()


def test_unit_passes_systemd_analyze_verify(tmp_path):
    """verify checks that ExecStart's program exists: the unit names the installed path, so the
    copy verified here points at this checkout's entry point; every other line is the unit's."""
    text = UNIT.read_text()
    assert text.count(INSTALLED_EXEC) == 1
    here = Path(sys.executable).with_name("cardservice")
    unit = tmp_path / "cardservice.service"
    unit.write_text(text.replace(INSTALLED_EXEC, f"ExecStart={here}"))
    assert _verify(unit) == "0", "systemd-analyze verify complained"
    # the check can fail: verify exits 0 on a bad value but says so
    unit.write_text(text.replace(INSTALLED_EXEC, f"ExecStart={here}")
                    .replace("MemoryMax=", "MemoryMax=x"))
    assert "Invalid memory limit" in _verify(unit)


def _closed_by_server(socks: list[socket.socket], settle: float = 0.3) -> int:
    """How many of ``socks`` the server has closed (readable at EOF), once the count settles."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN | select.POLLHUP)
    closed, last, deadline = 0, -1, time.monotonic() + 15
    while closed != last and time.monotonic() < deadline:
        last = closed
        time.sleep(settle)
        ready = {fd for fd, _ in poller.poll(0)}
        closed = sum(1 for s in socks if s.fileno() in ready and s.recv(1) == b"")
    return closed


def test_daemon_under_the_units_fd_limit_survives_a_connection_flood(tmp_path):
    service = _service()
    nofile = int(service["LimitNOFILE"])
    cap = Settings(home=tmp_path).max_connections
    flood = nofile + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < flood + 64:
        if hard != resource.RLIM_INFINITY and hard < flood + 64:
            pytest.fail(f"this test process may open only {hard} files; it needs {flood + 64}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (flood + 64, hard))
    home = tmp_path / "home"
    # the held connections stay open through the test (no head timeout), so exactly the cap holds
    proc = DaemonProcess(home, make_home(home), tmp_path / "daemon.log",
                         env={"CARDSERVICE_HEADER_TIMEOUT": "120"},
                         prefix=["prlimit", f"--nofile={nofile}:{nofile}", "--"]).start()
    try:
        daemon = psutil.Process(proc.process.pid)
        assert daemon.rlimit(psutil.RLIMIT_NOFILE) == (nofile, nofile)
        socks: list[socket.socket] = []
        try:
            for _ in range(flood):
                socks.append(socket.create_connection(("127.0.0.1", proc.port), timeout=5))
            closed = _closed_by_server(socks)
            fds, rss = daemon.num_fds(), daemon.memory_info().rss
        finally:
            for sock in socks:
                sock.close()
        assert flood - cap <= closed <= flood - cap + 4, f"{closed} of {flood} closed (cap {cap})"
        assert fds < nofile - 64, f"{fds} descriptors open under a limit of {nofile}"
        wait_until(lambda: proc.health()["status"] in ("ok", "degraded"), 15, "/v1/health")
        assert proc.process.poll() is None
        assert rss < _bytes(service["MemoryHigh"]), f"resident {rss / 2**20:.0f} MiB"
        assert "connection refused" in proc.log.read_text()
    finally:
        proc.stop()
