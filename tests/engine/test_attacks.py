"""Copied slots, rollbacks, swapped cards, wrong keys and interrupted writes."""

from __future__ import annotations

import dataclasses

import pytest

from card_layout.files import Fid, KeyRef
from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Check, Result, Status
from simulator.inprocess import InProcessConnection

from .conftest import BOB, identity, make_card, taken_out_mid_write, temporary

MOVE = PermitRequest(current_residence="博乐市南城街道幸福路3号")


def file_bytes(card, fid: Fid) -> bytes:
    return card.image.files[fid].data


def put_file(card, fid: Fid, data: bytes) -> None:
    """Write raw bytes into a card's EEPROM, as an attacker with a programmer would."""
    ef = card.image.files[fid]
    ef.memory[: len(data)] = data
    ef.length = len(data)


def test_slot_copied_to_another_card_is_invalid(engine: Engine, conn, card):
    engine.issue(conn, identity(), temporary())
    other = make_card("1112131415161718")
    other_conn = InProcessConnection(other)
    engine.issue(other_conn, identity(**BOB), temporary("另一个地址9号"))
    put_file(other, Fid.RES_A, file_bytes(card, Fid.RES_A))
    report = engine.read(other_conn).report
    assert report.status == Status.INVALID
    assert report.check(Check.RECORD_SIGNATURE).result == Result.FAILED


def test_older_slot_written_back_is_flagged_as_rollback(engine: Engine, conn, card):
    engine.issue(conn, identity(), temporary())
    old_a = file_bytes(card, Fid.RES_A)
    engine.resign(conn, MOVE)  # seq 2 in B
    engine.resign(conn, PermitRequest(current_residence="第三个地址5号"))  # seq 3 in A
    put_file(card, Fid.RES_A, old_a)  # seq 1 back in A; B (seq 2) is now current
    report = engine.read(conn).report
    assert report.record.sequence == 2
    assert report.check(Check.ROLLBACK).result == Result.FAILED
    assert report.status == Status.INVALID
    with pytest.raises(errors.CardInvalidError):
        engine.resign(conn, MOVE)


def test_card_swapped_between_read_and_write_is_not_written(engine: Engine, conn, card):
    engine.issue(conn, identity(), temporary())
    read = engine.read(conn)
    other = make_card("1112131415161718")
    engine.issue(InProcessConnection(other), identity(**BOB), temporary())
    before = other.image.to_json()
    with pytest.raises(errors.CardChangedError):
        engine.resign(InProcessConnection(other), MOVE, expected_serial=read.serial)
    assert other.image.to_json() == before


def test_card_swapped_inside_the_operation_is_not_written(engine: Engine, conn, card):
    """The serial is re-read right before the first write APDU."""
    engine.issue(conn, identity(), temporary())
    before = card.image.to_json()
    original = card.os.process

    def swapped(apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\xca":
            return bytes(8) + b"\x90\x00"
        return original(apdu)

    card.os.process = swapped
    with pytest.raises(errors.CardChangedError):
        engine.resign(conn, MOVE)
    card.os.process = original
    assert card.image.to_json() == before
    last = engine.audit.entries(limit=1)[0]
    assert (last.kind, last.outcome) == ("outcome", "failure")


def test_wrong_master_key_is_refused_and_nothing_written(engine: Engine, conn, card):
    engine.issue(conn, identity(), temporary())
    bad_keys = dataclasses.replace(engine.keys, card_keys=None, masters={
        KeyRef.PERSONALIZATION: bytes(16), KeyRef.WRITE: bytes(16)})
    bad = Engine(bad_keys, engine.registry, engine.audit, clock=engine.clock)
    before = card.image.to_json()
    with pytest.raises(errors.CardAuthError):
        bad.resign(conn, MOVE)
    assert card.image.to_json()["files"] == before["files"]
    assert card.image.tries[KeyRef.WRITE] == 7


def test_card_removed_mid_write_leaves_intent_pending_then_reconciled(engine: Engine, conn, card):
    engine.issue(conn, identity(), temporary())
    # the whole record lands, power is lost before the answer, and the card stays out
    with taken_out_mid_write(card):
        with pytest.raises(errors.CardServiceError):
            engine.resign(conn, MOVE)
        assert [e.operation for e in engine.audit.pending()] == ["resign"]
        assert engine.registry.get(card.image.serial.hex()).last_sequence == 1
    card.insert()
    resolved = engine.reconcile(InProcessConnection(card))
    assert len(resolved) == 1 and engine.audit.pending() == []
    outcome = engine.audit.entries(limit=1)[0]
    assert outcome.outcome == "reconciled_success" and outcome.sequence == 2
    assert engine.registry.get(card.image.serial.hex()).last_sequence == 2
    assert engine.audit.verify().ok


def test_mute_card_times_out_and_writes_nothing(engine: Engine, conn, card):
    engine.issue(conn, identity(), temporary())
    before = card.image.to_json()
    card.faults.mute(after_apdus=4)  # answers the read, then goes silent
    with pytest.raises(errors.CardTimeoutError):
        engine.resign(conn, MOVE)
    card.faults.unmute()
    assert card.image.to_json()["files"] == before["files"]
