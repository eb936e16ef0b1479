"""The open intents (audit schema v3) on both backends: the database keeps them as entries are
appended, the upgrade fills them from an existing log, and a full verify finds a table that
disagrees with the log. ``pending()`` lists from them."""

from __future__ import annotations

from datetime import UTC, datetime

from cardservice.store import migrations
from cardservice.store.audit_schema import COMPONENT

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SERIAL_A, SERIAL_B = "0123456789abcdef", "fedcba9876543210"


def _intent(log, serial: str) -> int:
    return log.intent(operation="issue", card_serial=serial, reader="r", actor="tok",
                      detail={"sequence": 1}, now=NOW)


def _close(log, intent: int, success: bool | None) -> None:
    log.outcome(intent, success=success, sequence=None, error_code=None, detail={}, now=NOW)


def _a_log_with_every_kind_of_intent(log) -> dict[str, int]:
    """Intents left open, closed by success, by failure, and "unknown" (still open)."""
    ids = {"open_a": _intent(log, SERIAL_A), "done_a": _intent(log, SERIAL_A),
           "failed_b": _intent(log, SERIAL_B), "unknown_b": _intent(log, SERIAL_B)}
    _close(log, ids["done_a"], True)
    _close(log, ids["failed_b"], False)
    _close(log, ids["unknown_b"], None)
    log.event(operation="revoke", card_serial=SERIAL_A, actor="tok", detail={}, now=NOW)
    return ids


def _table(db) -> list[tuple]:
    with db.connection() as tx:
        return [tuple(r) for r in tx.execute(
            "SELECT intent_id, card_serial FROM audit_open ORDER BY intent_id").fetchall()]


def test_the_database_keeps_the_open_intents(backend):
    log = backend.stores().audit()
    ids = _a_log_with_every_kind_of_intent(log)
    assert [e.id for e in log.pending()] == [ids["open_a"], ids["unknown_b"]]
    assert [e.id for e in log.pending(SERIAL_A)] == [ids["open_a"]]
    assert [e.id for e in log.pending(SERIAL_B)] == [ids["unknown_b"]]
    assert _table(backend.database("audit")) == [(ids["open_a"], SERIAL_A),
                                                 (ids["unknown_b"], SERIAL_B)]
    _close(log, ids["unknown_b"], True)  # a later, definite outcome closes it
    assert [e.id for e in log.pending()] == [ids["open_a"]]
    assert log.verify(full=True).ok


def test_the_upgrade_fills_the_table_from_the_log(backend):
    log = backend.stores().audit()
    ids = _a_log_with_every_kind_of_intent(log)
    db = backend.database("audit")
    _back_to_version_2(db, backend.name)
    assert migrations.current_version(db, "audit") == 2
    assert migrations.upgrade(db, COMPONENT) == [3, 4]
    assert _table(db) == [(ids["open_a"], SERIAL_A), (ids["unknown_b"], SERIAL_B)]
    _close(log, ids["open_a"], True)  # and the triggers keep it from then on
    assert _table(db) == [(ids["unknown_b"], SERIAL_B)]


def test_a_full_verify_finds_a_table_that_disagrees_with_the_log(backend):
    log = backend.stores().audit()
    ids = _a_log_with_every_kind_of_intent(log)
    db = backend.database("audit")
    with db.transaction() as tx:  # a pending write hidden from the lists
        tx.execute(f"DELETE FROM audit_open WHERE intent_id = {ids['open_a']}")
    result = log.verify(full=True)
    assert not result.ok and result.first_broken_id == ids["open_a"]
    assert "missing from the open-intent table" in result.reason
    with db.transaction() as tx:  # back, plus a closed write listed as open
        tx.execute(f"INSERT INTO audit_open VALUES ({ids['open_a']}, '{SERIAL_A}'), "
                   f"({ids['done_a']}, '{SERIAL_A}')")
    result = log.verify(full=True)
    assert not result.ok and result.first_broken_id == ids["done_a"]
    assert "which the log closed" in result.reason
    with db.transaction() as tx:
        tx.execute(f"DELETE FROM audit_open WHERE intent_id = {ids['done_a']}")
    assert log.verify(full=True).ok


def _back_to_version_2(db, backend: str) -> None:
    """The log as schema v2 left it: no table, no triggers (and no checkpoint signatures)."""
    drop = (["DROP TRIGGER audit_open_intent", "DROP TRIGGER audit_close_intent"]
            if backend == "sqlite" else
            ["DROP TRIGGER audit_track_open ON audit", "DROP FUNCTION audit_track_open()",
             "ALTER TABLE audit_checkpoint DROP COLUMN signature"])
    with db.transaction() as tx:
        for statement in [*drop, "DROP TABLE audit_open", "DROP INDEX audit_closing",
                          "UPDATE schema_version SET version = 2 WHERE component = 'audit'"]:
            tx.execute(statement)
