"""A production run with ``CARDSERVICE_PRINTER`` set prints both sides of each produced card
through a real CUPS queue (the private cupsd with a cups-pdf queue of tests/cups.py), driven as
a technician drives it: `cardservice produce` through pcscd, a feeder of blank cards. A queue
that refuses jobs leaves the cards produced, with the print failure reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from simulator.vpcd import reader_name_for_port
from tests.conftest import free_ports, wait_card_state
from tests.cups import pdf_page_size, pdf_pages

pytestmark = pytest.mark.pcsc

PEOPLE = [("王五", "110105199001011232"), ("赵六", "110105199001021238")]


@pytest.fixture
def cli(tmp_path, cups_env):
    env = {**os.environ, "CARDSERVICE_HOME": str(tmp_path / "home"),
           "CARDSERVICE_PRINTER": cups_env.queue}
    env.pop("CARDSERVICE_DATABASE_URL", None)

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "cardservice", *args], env=env,
                              capture_output=True, text=True, timeout=180, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == code, proc.stderr
        return proc

    run("keys", "init", "--demo")
    return run


def _certified(cli) -> list[str]:
    ids = []
    for name, number in PEOPLE:
        app = json.loads(cli(
            "application", "submit", "--name", name, "--gender", "male", "--nationality", "01",
            "--citizen-number", number, "--household-address", "新疆博乐市红星路1号",
            "--residence", "博乐市团结路2号", "--permit-type", "temporary", "--json").stdout)
        cli("application", "audit", app["id"])
        cli("application", "certify", app["id"])
        ids.append(app["id"])
    return ids


def _produce(cli, tmp_path, code: int) -> subprocess.CompletedProcess:
    port = free_ports()[-1]  # the last: tests that wedge a reader take the first
    reader = reader_name_for_port(port)
    feeder = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--feeder",
                               str(tmp_path / "stack"), "--count", str(len(PEOPLE)),
                               "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        assert wait_card_state(reader, present=True, timeout=10.0)
        return cli("produce", "--readers", reader, "--card-wait", "10", "--json", code=code)
    finally:
        feeder.terminate()
        feeder.wait(10)


def _wait_pdfs(cups, count: int, timeout: float = 90.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pdfs = cups.pdfs()
        if len(pdfs) >= count and cups.idle():
            return pdfs
        time.sleep(0.2)
    raise AssertionError(f"{len(cups.pdfs())} of {count} PDFs landed: {cups.log()}")


def test_production_prints_both_sides_of_each_card(cli, cups_env, pcscd, tmp_path) -> None:
    ids = _certified(cli)
    before = len(cups_env.pdfs())
    run = json.loads(_produce(cli, tmp_path, code=0).stdout)
    assert (run["state"], run["done"], run["failed"], run["print_failed"]) == \
        ("finished", 2, 0, 0)
    serials = {r["card_serial"] for r in run["results"]}
    assert len(serials) == 2
    for result in run["results"]:
        printed = result["print"]
        assert printed["status"] == "printed" and printed["queue"] == cups_env.queue
        assert printed["sides"] == ["front", "back"] and printed["card_serial"] == \
            result["card_serial"]
    pdfs = _wait_pdfs(cups_env, before + 2)[before:]
    assert len(pdfs) == 2
    for pdf in pdfs:
        assert pdf_pages(pdf) == 2  # front and back
        assert pdf_page_size(pdf) == pytest.approx((242.6, 153.0), abs=1.0)
    listed = json.loads(cli("application", "list", "--status", "produced", "--json").stdout)
    assert sorted(a["id"] for a in listed) == sorted(ids)


def test_a_refusing_queue_leaves_the_cards_produced(cli, cups_env, pcscd, tmp_path) -> None:
    ids = _certified(cli)
    before = len(cups_env.pdfs())
    cups_env.reject()
    try:
        proc = _produce(cli, tmp_path, code=6)
    finally:
        cups_env.accept()
    run = json.loads(proc.stdout)
    assert (run["state"], run["done"], run["failed"], run["print_failed"]) == \
        ("finished", 2, 0, 2)
    for result in run["results"]:
        assert result["error"] is None and result["card_serial"]
        assert result["print"]["status"] == "failed"
        assert result["print"]["error"]["code"] == "PRINT_FAILED"
        assert result["print"]["error"]["retriable"] is True
    assert "error PRINT_FAILED: 2 card(s) were produced" in proc.stderr
    assert "cardservice card print" in proc.stderr
    listed = json.loads(cli("application", "list", "--status", "produced", "--json").stdout)
    assert sorted(a["id"] for a in listed) == sorted(ids)
    assert {a["card_serial"] for a in listed} == {r["card_serial"] for r in run["results"]}
    assert len(cups_env.pdfs()) == before  # nothing printed
