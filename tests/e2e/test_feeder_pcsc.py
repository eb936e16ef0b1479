"""`cardsim serve --feeder DIR --count N` through pcscd: each card ejected after its issue is
taken out and the next blank card comes in; a restarted feeder resumes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cardservice.engine.operations import Engine
from cardservice.engine.verify import Status
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from cardservice.transport.pcsc import PcscDriver
from simulator.image import CardImage
from simulator.vpcd import reader_name_for_port
from tests.conftest import free_ports, wait_card_state
from tests.engine.conftest import Clock, identity, temporary

pytestmark = pytest.mark.pcsc

PEOPLE = [identity(), identity(name="李四", gender="male", citizen_number="110105199001011232"),
          identity(name="王五", gender="male", citizen_number="110105201001011232")]


def _start_feeder(folder: Path, count: int) -> tuple[subprocess.Popen, str]:
    port = free_ports()[-1]  # the last: tests that wedge a reader take the first
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "-v", "serve", "--feeder", str(folder),
                             "--count", str(count), "--seed", "3", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    reader = reader_name_for_port(port)
    assert wait_card_state(reader, present=True, timeout=8.0), "the feeder inserted no card"
    return proc, reader


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    return proc.communicate(timeout=10)[1]


def _next_card(driver: PcscDriver, reader: str, last: int | None) -> int:
    """Wait for a card other than the one with token ``last`` (the feeder's next)."""
    deadline = time.monotonic() + 8.0
    while time.monotonic() < deadline:
        token = driver.card_token(reader)
        if token is not None and token != last:
            return token
        time.sleep(0.05)
    raise AssertionError(f"no new card came into {reader}")


def _issue_and_eject(engine: Engine, driver: PcscDriver, reader: str, person,
                     last: int | None = None) -> tuple[str, int]:
    token = _next_card(driver, reader, last)
    conn = driver.connect(reader)
    try:
        view = engine.issue(conn, person, temporary())
    except BaseException:
        conn.close()
        raise
    conn.eject()
    assert view.report.status == Status.VALID
    return view.serial.hex(), token


def test_feeder_feeds_the_next_card_after_each_eject(pcscd, demo_home, tmp_path: Path) -> None:
    engine = Engine(load_keys(demo_home), Registry(tmp_path / "r.db"),
                    AuditLog(tmp_path / "a.db"), clock=Clock())
    driver = PcscDriver(timeout=3.0)
    folder = tmp_path / "stack"
    proc, reader = _start_feeder(folder, 3)
    try:
        first, token = _issue_and_eject(engine, driver, reader, PEOPLE[0])
        second, token = _issue_and_eject(engine, driver, reader, PEOPLE[1], token)
        _next_card(driver, reader, token)  # the third card came in
        log = _stop(proc)
        assert wait_card_state(reader, present=False, timeout=5.0)
        # a restarted feeder skips the personalized cards and resumes with the third
        proc, reader = _start_feeder(folder, 3)
        third, _ = _issue_and_eject(engine, driver, reader, PEOPLE[2])
        assert wait_card_state(reader, present=False, timeout=8.0)  # the stack is empty
        serials = [first, second, third]
    finally:
        log2 = _stop(proc)
        driver.close()
    assert len(set(serials)) == 3
    images = [CardImage.load(p) for p in sorted(folder.glob("feeder-*.json"))]
    assert [i.serial.hex() for i in images] == serials and all(i.locked for i in images)
    assert "taken" in log and "(2 of 3)" in log and "(3 of 3)" in log2
    assert engine.registry.count() == 3
