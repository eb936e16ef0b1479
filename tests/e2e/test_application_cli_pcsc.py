"""`cardservice application ...` and `cardservice produce` as a technician runs them: separate
processes on one data directory (SQLite), a feeder of blank cards in a virtual reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from simulator.vpcd import reader_name_for_port
from tests.conftest import free_ports, wait_card_state

pytestmark = pytest.mark.pcsc

PEOPLE = [("王五", "110105199001011232"), ("赵六", "110105199001021238")]


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "CARDSERVICE_HOME": str(tmp_path / "home")}
    env.pop("CARDSERVICE_DATABASE_URL", None)

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "cardservice", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == code, proc.stderr
        return proc

    run("keys", "init", "--demo")
    return run


def _submit(cli, name: str, number: str, receipt=None) -> dict:
    args = ["application", "submit", "--name", name, "--gender", "male", "--nationality", "01",
            "--citizen-number", number, "--household-address", "新疆博乐市红星路1号",
            "--residence", "博乐市团结路2号", "--permit-type", "temporary", "--json"]
    if receipt is not None:
        args += ["--receipt", str(receipt)]
    return json.loads(cli(*args).stdout)


def test_application_commands_and_produce(cli, pcscd, tmp_path) -> None:
    first = _submit(cli, *PEOPLE[0], receipt=tmp_path / "r.pdf")
    assert first["status"] == "submitted" and (tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"
    second = _submit(cli, *PEOPLE[1])
    cli("application", "submit", "--name", "王五", "--gender", "male", "--nationality", "01",
        "--citizen-number", PEOPLE[0][1], "--household-address", "新疆博乐市红星路1号",
        "--residence", "博乐市团结路2号", "--permit-type", "temporary", code=4)  # open already
    for app in (first, second):
        cli("application", "audit", app["id"])
        cli("application", "certify", app["id"])
    cli("application", "certify", first["id"], code=4)  # already certified
    out = tmp_path / "again.pdf"
    cli("application", "receipt", first["id"], "--out", str(out))
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert first["id"] in text and "王五" in text

    port = free_ports()[-1]  # the last: tests that wedge a reader take the first
    reader = reader_name_for_port(port)
    feeder = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--feeder",
                               str(tmp_path / "stack"), "--count", "2", "--port", str(port)],
                              stderr=subprocess.DEVNULL)
    try:
        assert wait_card_state(reader, present=True, timeout=10.0)
        proc = cli("produce", "--readers", reader, "--card-wait", "10", "--json")
    finally:
        feeder.terminate()
        feeder.wait(10)
    run = json.loads(proc.stdout)
    assert (run["state"], run["done"], run["failed"]) == ("finished", 2, 0)
    assert "2/2 done, 0 failed, 0 left" in proc.stderr  # the progress bar's last line
    listed = json.loads(cli("application", "list", "--status", "produced", "--json").stdout)
    assert [a["id"] for a in listed] == [first["id"], second["id"]]
    serial = listed[0]["card_serial"]
    cli("application", "hand-over", first["id"], "--card-serial", "52500000000000ff", code=4)
    done = json.loads(cli("application", "hand-over", first["id"], "--card-serial", serial,
                          "--json").stdout)
    assert done["status"] == "handed_over"
    shown = cli("application", "show", first["id"]).stdout
    assert "hand_over" in shown and "certify_approve" in shown
