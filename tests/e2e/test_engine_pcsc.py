"""The engine end to end through pcscd + vpcd + the simulated card, via the pyscard driver."""

from __future__ import annotations

import time
from datetime import date

import pytest

from card_layout.files import Fid
from card_layout.jpeg_sample import flat_jpeg
from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Check, Status
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from cardservice.transport.pcsc import PcscDriver
from tests.engine.conftest import Clock, identity, temporary

pytestmark = pytest.mark.pcsc

MOVE = PermitRequest(current_residence="博乐市南城街道幸福路3号")


@pytest.fixture
def engine(demo_home, tmp_path):
    eng = Engine(load_keys(demo_home), Registry(tmp_path / "r.db"), AuditLog(tmp_path / "a.db"),
                 clock=Clock())
    yield eng
    eng.registry.close()
    eng.audit.close()


@pytest.fixture
def driver():
    d = PcscDriver(timeout=3.0)
    yield d
    d.close()


def test_issue_read_resign_renew_through_pcscd(engine, driver, vpcd_card):
    reader, _path, _bridge = vpcd_card
    assert any(r.name == reader and r.card_present for r in driver.readers())
    with driver.connect(reader) as conn:
        issued = engine.issue(conn, identity(), temporary())
    assert issued.report.status == Status.VALID and issued.report.record.sequence == 1
    with driver.connect(reader) as conn:
        assert engine.read(conn).report.record == issued.report.record
        moved = engine.resign(conn, MOVE)
    assert moved.report.record.sequence == 2 and moved.report.current_slot == Fid.RES_B
    with driver.connect(reader) as conn:
        renewed = engine.renew(conn, PermitRequest(expires_on=date(2027, 3, 1)))
        assert engine.read(conn).report.record == renewed.report.record
    assert renewed.report.record.expires_on == date(2027, 3, 1)
    assert engine.audit.verify().ok and engine.audit.pending() == []


def test_read_uses_five_apdus_with_extended_length(engine, driver, vpcd_card):
    """SELECT, READ BINARY (EF.ID), INTERNAL AUTHENTICATE, 2 READ BINARY; the photo costs one
    more only on request."""
    reader, _path, bridge = vpcd_card
    with driver.connect(reader) as conn:
        engine.issue(conn, identity(), temporary(), photo=flat_jpeg())
        before = bridge.card.apdu_count
        view = engine.read(conn)
        assert bridge.card.apdu_count - before == 5
        assert view.report.status == Status.VALID and view.report.photo is None
        assert view.report.check(Check.CHIP_AUTHENTIC).reason == "ok"
        before = bridge.card.apdu_count
        view = engine.read(conn, photo=True)
        assert bridge.card.apdu_count - before == 6
        assert view.report.status == Status.VALID and view.report.photo == flat_jpeg()


def test_card_removed_mid_write_then_reconciled(engine, driver, vpcd_card):
    reader, _path, bridge = vpcd_card
    with driver.connect(reader) as conn:
        engine.issue(conn, identity(), temporary())
    bridge.card.faults.cut_power_in_update(1, 10_000)  # all bytes land, the answer is lost
    # the write landed but its answer was lost and the card is gone: not confirmed, intent pending
    with driver.connect(reader) as conn, pytest.raises(errors.WriteVerifyError) as unconfirmed:
        engine.resign(conn, MOVE)
    assert [e.id for e in engine.audit.pending()] == [unconfirmed.value.intent_id]
    deadline = time.monotonic() + 5
    while engine.audit.pending() and time.monotonic() < deadline:
        try:
            with driver.connect(reader) as conn:
                engine.reconcile(conn)
        except errors.TransportError:
            time.sleep(0.2)
    assert engine.audit.pending() == []
    assert engine.registry.get("52503100000000a1").last_sequence in (1, 2)
    with driver.connect(reader) as conn:
        view = engine.read(conn)
    assert view.report.status == Status.VALID
    assert view.report.record.sequence == engine.registry.get("52503100000000a1").last_sequence


def test_pcscd_restart_between_operations(engine, driver, vpcd_card, pcscd):
    if not pcscd.started:
        pytest.skip("pcscd was not started by this test session; it is not ours to restart")
    reader, _path, bridge = vpcd_card
    with driver.connect(reader) as conn:
        engine.issue(conn, identity(), temporary())
    pcscd.stop()
    with pytest.raises(errors.TransportError):
        driver.readers()
    pcscd.ensure()
    assert bridge.wait_connected(10.0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(r.name == reader and r.card_present for r in driver.readers()):
            break
        time.sleep(0.2)
    with driver.connect(reader) as conn:
        assert engine.resign(conn, MOVE).report.record.sequence == 2


def test_mute_card_is_abandoned_by_the_watchdog(engine, vpcd_card):
    """One PC/SC call that never returns ends the operation with CARD_TIMEOUT in bounded time."""
    reader, _path, bridge = vpcd_card
    driver = PcscDriver(timeout=1.0)
    try:
        with driver.connect(reader) as conn:
            engine.issue(conn, identity(), temporary())
        bridge.card.faults.mute(after_apdus=1)  # answers SELECT, then silence
        conn = driver.connect(reader)
        started = time.monotonic()
        with pytest.raises(errors.CardTimeoutError):
            engine.read(conn)
        assert time.monotonic() - started < 3.0
        with pytest.raises(errors.CardTimeoutError):  # the stuck connection refuses at once
            engine.read(conn)
        bridge.unmute()  # re-inserted: pcscd's blocked request ends
        conn.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                with driver.connect(reader) as fresh:
                    assert engine.read(fresh).report.status == Status.VALID
                break
            except errors.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        driver.close()


def test_connect_while_the_reader_is_wedged_times_out(vpcd_card):
    """A reader whose card stopped answering mid-command blocks new connections in pcscd;
    connecting must give up with a timeout instead of hanging the caller."""
    reader, _path, bridge = vpcd_card
    driver = PcscDriver(timeout=1.0)
    first = driver.connect(reader)
    try:
        bridge.card.faults.mute()
        with pytest.raises(errors.CardTimeoutError):
            first.send_and_receive(bytes.fromhex("00B0820000"))  # never answered
        started = time.monotonic()
        with pytest.raises(errors.TransportError) as exc:
            driver.connect(reader).close()
        assert time.monotonic() - started < 3.0
        assert exc.value.code == "CARD_TIMEOUT" and "connect" in exc.value.message
    finally:
        bridge.unmute()
        first.close()
        driver.close()
