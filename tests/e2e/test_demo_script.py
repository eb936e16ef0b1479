"""`make run`'s script (scripts/run-demo.sh) end to end on a free virtual reader (issue 11, point
2): its output, which people paste and redirect into log files, never shows the operator token,
and every file it leaves in the demo directory is readable by its owner only."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_ports, wait_card_state
from tests.reliability.daemon import free_port

pytestmark = pytest.mark.pcsc

ROOT = Path(__file__).resolve().parents[2]
DEMO_PORTS = (35963, 35964, 35965, 35966)  # the ports the script knows reader names for


def test_demo_output_and_files_keep_the_token_private(pcscd, tmp_path: Path):
    ports = [p for p in free_ports() if p in DEMO_PORTS]
    if not ports:
        pytest.skip("no free virtual reader among the demo's ports 35963-35966")
    demo, out = tmp_path / "demo", tmp_path / "run.log"
    env = {**os.environ, "DEMO_DIR": str(demo), "DEMO_PORT": str(free_port()),
           "DEMO_VPCD_PORT": str(ports[0])}
    with out.open("wb") as log:
        proc = subprocess.Popen(["sh", str(ROOT / "scripts" / "run-demo.sh")], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while b"Ctrl-C stops" not in out.read_bytes():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        wait_card_state(f"Virtual PCD 00 0{ports[0] - 35963}" if ports[0] < 35965
                        else f"Virtual PCD B 00 0{ports[0] - 35965}", present=False)
    token = (demo / "operator.token").read_text().strip()
    assert token.startswith("cs_")
    text = out.read_text()
    assert token not in text
    assert "operator.token" in text and '"card_serial"' in text
    for path in [demo, *demo.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.relative_to(tmp_path)} has mode {mode:04o}"
