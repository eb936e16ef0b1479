"""Through pcscd + vpcd: the copy made with `cardsim copy` reads invalid (chip_authentic), an
offline verifier sees a rollback from the card's counter, and a full-size photo (4096 bytes)
reads in one extended APDU on request."""

from __future__ import annotations

import subprocess
import sys

import pytest

from card_layout.files import Fid
from card_layout.jpeg_sample import flat_jpeg
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Check, Status
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from cardservice.transport.pcsc import PcscDriver
from simulator.image import CardImage
from tests.conftest import serve_image_process, wait_card_state
from tests.engine.conftest import Clock, identity, temporary


def _engine(demo_home, tmp_path, name: str) -> Engine:
    return Engine(load_keys(demo_home), Registry(tmp_path / f"{name}.db"),
                  AuditLog(tmp_path / f"{name}-audit.db"), clock=Clock())


@pytest.fixture
def engines(demo_home, tmp_path):
    issuer, offline = _engine(demo_home, tmp_path, "issuer"), _engine(demo_home, tmp_path, "off")
    yield issuer, offline
    for eng in (issuer, offline):
        eng.registry.close()
        eng.audit.close()


@pytest.fixture
def driver():
    d = PcscDriver(timeout=3.0)
    yield d
    d.close()


def test_copy_reads_invalid_through_pcscd(engines, driver, vpcd_card, tmp_path):
    issuer, offline = engines
    reader, path, bridge = vpcd_card
    with driver.connect(reader) as conn:
        assert issuer.issue(conn, identity(), temporary()).report.status == Status.VALID
    copy_path = tmp_path / "copy.json"
    subprocess.run([sys.executable, "-m", "simulator", "copy", str(path), str(copy_path)],
                   check=True, capture_output=True)
    copy = CardImage.load(copy_path)
    assert copy.serial == bridge.card.image.serial and copy.files[Fid.ID].data == \
        bridge.card.image.files[Fid.ID].data
    proc, copy_reader = serve_image_process(copy_path)
    try:
        for verifier in (issuer, offline):
            with driver.connect(copy_reader) as conn:
                view = verifier.read(conn)
            assert view.report.status == Status.INVALID
            assert view.report.check(Check.CHIP_AUTHENTIC).reason == "bad_signature"
        with driver.connect(reader) as conn:  # the original still proves itself
            assert offline.read(conn).report.status == Status.VALID
    finally:
        proc.terminate()
        proc.wait(5)
        wait_card_state(copy_reader, present=False)


def test_offline_rollback_through_pcscd(engines, driver, vpcd_card):
    issuer, offline = engines
    reader, _path, bridge = vpcd_card
    with driver.connect(reader) as conn:
        issuer.issue(conn, identity(), temporary())
        moved = issuer.resign(conn, PermitRequest(current_residence="博乐市南城街道幸福路3号"))
    bridge.card.image.files[moved.report.current_slot].memory[12] ^= 0x55
    with driver.connect(reader) as conn:
        view = offline.read(conn)
    assert view.report.status == Status.INVALID and view.report.record.sequence == 1
    assert view.report.check(Check.ROLLBACK).reason == "sequence_below_counter"
    assert view.report.check(Check.CARD_COUNTER).reason == "sequence_below_counter"


def test_full_size_photo_in_one_more_apdu(engines, driver, vpcd_card):
    issuer, _ = engines
    reader, _path, bridge = vpcd_card
    small = flat_jpeg(102, 126, 50)
    photo = flat_jpeg(102, 126, 50, comment=b"p" * (4096 - len(small) - 4))
    assert len(photo) == 4096
    with driver.connect(reader) as conn:
        issuer.issue(conn, identity(), temporary(), photo=photo)
        before = bridge.card.apdu_count
        assert issuer.read(conn).report.photo is None
        assert bridge.card.apdu_count - before == 5
        before = bridge.card.apdu_count
        view = issuer.read(conn, photo=True)
        assert bridge.card.apdu_count - before == 6
    assert view.report.status == Status.VALID and view.report.photo == photo
