"""The TypeScript client (clients/typescript): `npm ci`, the build (types generated from
docs/openapi.json by openapi-typescript) and its `node --test` suite against the real daemon
and a simulated card."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.control import control_path

pytestmark = pytest.mark.pcsc
PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"


def _npm(*args: str, env: dict | None = None, timeout: float = 300) -> str:
    npm = shutil.which("npm")
    assert npm, "npm is missing: scripts/install-system-deps.sh installs nodejs and npm"
    done = subprocess.run([npm, *args], cwd=PACKAGE, capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    assert done.returncode == 0, f"npm {' '.join(args)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_typescript_client_against_the_daemon(daemon, served):
    _npm("ci", "--no-audit", "--no-fund")
    _npm("run", "build")
    env = {**os.environ, "CARDSERVICE_URL": daemon.url, "CARDSERVICE_TOKEN": daemon.secret,
           "CARDSERVICE_READER": served.reader,
           "CARDSERVICE_CARD_CTL": str(control_path(served.image))}
    out = _npm("test", env=env, timeout=180)
    passed = int(re.search(r"^# pass (\d+)", out, re.MULTILINE).group(1))
    assert re.search(r"^# fail 0$", out, re.MULTILINE), out
    assert passed == 7, out
