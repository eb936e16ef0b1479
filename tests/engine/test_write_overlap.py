"""A re-sign overlaps host work with the card's (engine/overlap.py) without moving its fences:
the reservation is taken before the write's first APDU, the intent is durable (visible to
another connection) before UPDATE BINARY, an intent that cannot be appended leaves nothing
behind, and the read-back is judged on the bytes the card returned."""

from __future__ import annotations

import sqlite3

import pytest

from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from tests.engine.conftest import identity, temporary

MOVE = PermitRequest(current_residence="博乐市新城街道和平路9号")
GET_DATA, UPDATE_BINARY, READ_BINARY = 0xCA, 0xD6, 0xB0


def _issued(engine: Engine, conn, card) -> str:
    engine.issue(conn, identity(), temporary())
    return card.image.serial.hex()


def test_reservation_before_the_write_and_intent_durable_before_update(engine, conn, card,
                                                                       tmp_path):
    serial = _issued(engine, conn, card)
    other_registry = Registry(tmp_path / "registry.db")  # what another process sees
    other_audit = AuditLog(tmp_path / "audit.db")
    seen: dict[int, tuple[int | None, int]] = {}
    original = card.os.process

    def observed(apdu: bytes) -> bytes:
        if apdu[1] in (GET_DATA, UPDATE_BINARY) and apdu[1] not in seen:
            seen[apdu[1]] = (other_registry.get(serial).pending_sequence,
                             len(other_audit.pending(card_serial=serial)))
        return original(apdu)

    card.os.process = observed
    try:
        view = engine.resign(conn, MOVE)
    finally:
        card.os.process = original
    assert view.report.record.sequence == 2
    assert seen[GET_DATA][0] == 2  # reserved before the write's first APDU
    assert seen[UPDATE_BINARY] == (2, 1)  # and the intent committed before the first write
    row = other_registry.get(serial)
    assert row.last_sequence == 2 and row.pending_sequence is None
    assert other_audit.pending() == []
    other_registry.close()
    other_audit.close()


def _resign_failing(engine, conn, card, monkeypatch, target: object, name: str,
                    exc: Exception) -> str:
    """Re-sign an issued card while ``target.name`` raises ``exc``; the card's files must be
    unchanged (no write APDU went out). The card's serial."""
    serial = _issued(engine, conn, card)
    before = card.image.to_json()

    def failing(**_kwargs):
        raise exc

    monkeypatch.setattr(target, name, failing)
    with pytest.raises(type(exc)):
        engine.resign(conn, MOVE)
    assert card.image.to_json()["files"] == before["files"]
    return serial


def test_an_intent_that_cannot_be_appended_leaves_card_and_registry_as_they_were(
        engine, conn, card, monkeypatch):
    serial = _resign_failing(engine, conn, card, monkeypatch, engine.audit, "intent",
                             sqlite3.OperationalError("disk I/O error"))
    row = engine.registry.get(serial)
    assert row.last_sequence == 1 and row.pending_sequence is None  # reservation released
    assert engine.audit.pending() == []
    monkeypatch.undo()
    assert engine.resign(conn, MOVE).report.record.sequence == 2  # and the next one works


def test_a_refused_reservation_still_records_intent_and_failure(engine, conn, card,
                                                                 monkeypatch):
    serial = _resign_failing(engine, conn, card, monkeypatch, engine.registry, "reserve",
                             errors.RegistryUnavailableError("the registry cannot be reached"))
    outcome, intent = engine.audit.entries(limit=2)
    assert (intent.kind, intent.operation, intent.card_serial) == ("intent", "resign", serial)
    assert (outcome.kind, outcome.intent_id, outcome.outcome) == ("outcome", intent.id,
                                                                  "failure")
    assert outcome.error_code == "REGISTRY_UNAVAILABLE" and engine.audit.pending() == []


def test_the_read_back_is_verified_as_read_not_as_expected(engine, conn, card):
    """A card that acknowledges the UPDATE but reads back other bytes: the verification made
    ahead from the expected bytes is not used; the write is refused and nothing registered."""
    serial = _issued(engine, conn, card)
    original = card.os.process
    state = {"updated": False}

    def forgetful(apdu: bytes) -> bytes:
        if apdu[1] == UPDATE_BINARY and not state["updated"]:
            state["updated"] = True
            return b"\x90\x00"  # acknowledged, not written
        return original(apdu)

    card.os.process = forgetful
    try:
        with pytest.raises(errors.WriteVerifyError):
            engine.resign(conn, MOVE)
    finally:
        card.os.process = original
    assert state["updated"]
    assert engine.read(conn).report.record.sequence == 1
    row = engine.registry.get(serial)
    assert row.last_sequence == 1 and row.pending_sequence is None
    last = engine.audit.entries(limit=1)[0]
    assert (last.kind, last.outcome) == ("outcome", "failure")
