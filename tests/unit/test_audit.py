"""The hash-chained audit log: appends, queries, verify, and tampering by a raw SQLite client."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from cardservice.errors import NotFoundError, ValidationError
from cardservice.store.audit import (
    GENESIS_HASH,
    AuditLog,
    AuditStateError,
    canonical_bytes,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SERIAL = "0123456789abcdef"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "audit.db"


@pytest.fixture
def log(path):
    audit = AuditLog(path)
    yield audit
    audit.close()


def fill(log: AuditLog, pairs: int) -> list[int]:
    """``pairs`` intent+outcome pairs; returns all ids."""
    ids = []
    for i in range(pairs):
        t = NOW + timedelta(minutes=i)
        intent = log.intent(
            operation="resign",
            card_serial=SERIAL,
            reader="Virtual PCD 00 00",
            actor="counter-app",
            detail={"residence": "北京市朝阳区", "step": i},
            now=t,
        )
        out = log.outcome(intent, success=True, sequence=i + 2, error_code=None, detail={}, now=t)
        ids += [intent, out]
    return ids


def tamper(path, *statements: str) -> None:
    """An attacker with file access: drop the triggers, then edit."""
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("DROP TRIGGER audit_no_delete")
    for sql in statements:
        raw.execute(sql)
    raw.commit()
    raw.close()


def test_intent_outcome_event_fields(log):
    intent = log.intent(
        operation="issue", card_serial=SERIAL, reader="r1", actor="app",
        detail={"b": 1, "a": "x"}, now=NOW,
    )  # fmt: skip
    out = log.outcome(
        intent, success=False, sequence=None, error_code="CARD_REMOVED",
        detail={"apdu": 3}, now=NOW + timedelta(seconds=2),
    )  # fmt: skip
    ev = log.event(
        operation="revoke", card_serial=SERIAL, actor="admin", detail={"reason": "lost"}, now=NOW
    )
    assert (intent, out, ev) == (1, 2, 3)
    newest = log.entries()
    assert [e.id for e in newest] == [3, 2, 1]
    e_ev, e_out, e_int = newest
    assert (e_int.kind, e_int.operation, e_int.reader, e_int.actor) == (
        "intent",
        "issue",
        "r1",
        "app",
    )
    assert e_int.detail == {"a": "x", "b": 1}
    assert e_int.prev_hash == GENESIS_HASH
    assert e_out.kind == "outcome" and e_out.intent_id == 1 and e_out.outcome == "failure"
    assert e_out.error_code == "CARD_REMOVED"
    assert e_out.card_serial == SERIAL and e_out.reader == "r1"
    assert e_out.ts == NOW + timedelta(seconds=2)
    assert e_out.prev_hash == e_int.hash
    assert e_ev.kind == "event" and e_ev.detail == {"reason": "lost"}
    assert log.head() == (3, e_ev.hash)


def test_hash_is_sha256_of_prev_and_canonical_fields(log):
    log.intent(operation="issue", card_serial=None, reader=None, actor=None, detail=None, now=NOW)
    entry = log.entries()[0]
    fields = (1, "2026-03-01T09:30:00.000000+00:00", "intent", "issue",
              None, None, None, None, None, None, None, "{}", "local")  # fmt: skip
    assert canonical_bytes(fields) == (
        b'[1,"2026-03-01T09:30:00.000000+00:00","intent","issue",null,null,null,null,null,'
        b'null,null,"{}","local"]'
    )
    assert entry.site_id == "local"
    assert entry.hash == hashlib.sha256(GENESIS_HASH + canonical_bytes(fields)).digest()


@pytest.mark.parametrize(
    "value",
    ["", 'q"uote', "back\\slash", "北京市", "😀 astral", "\u2028\u2029\x7f", "'single'", "/"],
)
def test_sqlite_canonical_encoding_matches_the_reference(log, value):
    """The chain is built by SQLite's json_array; pin it to the documented encoding."""
    eid = log.intent(
        operation="issue", card_serial=value, reader=value, actor=value,
        detail={value: value, "n": [1, None]}, now=NOW,
    )  # fmt: skip
    e = log.entries()[0]
    fields = (eid, "2026-03-01T09:30:00.000000+00:00", "intent", "issue", value, value, value,
              None, None, None, None, log._conn.execute("SELECT detail FROM audit").fetchone()[0],
              "local")  # fmt: skip
    assert e.hash == hashlib.sha256(GENESIS_HASH + canonical_bytes(fields)).digest()
    assert e.detail == {value: value, "n": [1, None]}
    assert log.verify().ok


def test_intent_is_committed_before_it_returns(path, log):
    intent = log.intent(
        operation="issue", card_serial=SERIAL, reader="r", actor="a", detail={}, now=NOW
    )
    other = sqlite3.connect(path)
    assert other.execute("SELECT id, kind FROM audit").fetchall() == [(intent, "intent")]
    other.close()


def test_verify_ok_and_counts(log):
    assert log.verify() == log.verify().__class__(True, 0, None, None)
    fill(log, 10)
    result = log.verify()
    assert (result.ok, result.entries, result.first_broken_id, result.reason) == (
        True, 20, None, None,
    )  # fmt: skip


@pytest.mark.parametrize("statement", ["UPDATE audit SET detail = '{}' WHERE id = 3",
                                       "DELETE FROM audit WHERE id = 3",
                                       "DELETE FROM audit"])  # fmt: skip
def test_triggers_refuse_update_and_delete(path, log, statement):
    fill(log, 3)
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute(statement)
    raw.close()
    assert log.verify().ok and log.count() == 6


def test_edited_detail_is_reported(path, log):
    fill(log, 5)
    tamper(path, """UPDATE audit SET detail = '{"residence":"elsewhere","step":2}' WHERE id = 5""")
    result = log.verify()
    assert (result.ok, result.first_broken_id, result.entries) == (False, 5, 4)
    assert "hash" in result.reason


def test_edited_hash_is_reported(path, log):
    fill(log, 5)
    tamper(path, "UPDATE audit SET hash = zeroblob(32) WHERE id = 7")
    result = log.verify()
    assert (result.ok, result.first_broken_id) == (False, 7)


def test_edit_with_recomputed_hash_breaks_the_next_link(path, log):
    fill(log, 5)
    log.close()
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER audit_no_update")
    prev = raw.execute("SELECT prev_hash FROM audit WHERE id = 4").fetchone()[0]
    raw.execute("UPDATE audit SET sequence = 99 WHERE id = 4")
    canon = raw.execute(
        "SELECT CAST(json_array(id, ts, kind, operation, card_serial, reader, actor, intent_id, "
        "outcome, sequence, error_code, detail, site_id) AS BLOB) FROM audit WHERE id = 4"
    ).fetchone()[0]
    raw.execute("UPDATE audit SET hash = ? WHERE id = 4", (hashlib.sha256(prev + canon).digest(),))
    raw.commit()
    raw.close()
    reopened = AuditLog(path)
    result = reopened.verify()
    assert (result.ok, result.first_broken_id, result.reason) == (
        False,
        5,
        "prev_hash does not match",
    )
    reopened.close()


def test_deleted_middle_row_is_reported_as_the_gap(path, log):
    fill(log, 5)
    tamper(path, "DELETE FROM audit WHERE id = 6")
    result = log.verify()
    assert (result.ok, result.first_broken_id, result.entries) == (False, 6, 5)
    assert "missing" in result.reason


def test_deleted_tail_is_caught_by_the_head_record(path, log):
    fill(log, 5)
    tamper(path, "DELETE FROM audit WHERE id >= 9")
    result = log.verify()
    assert (result.ok, result.first_broken_id, result.entries) == (False, 9, 8)
    assert "head" in result.reason


def test_deleted_tail_with_forged_head_is_not_detectable_from_the_file(path, log):
    """Documented limit: an attacker who also rewrites the head record goes unseen."""
    fill(log, 5)
    anchored = log.head()
    tamper(path, "DELETE FROM audit WHERE id >= 9",
           "UPDATE audit_head SET last_id = 8, last_hash = (SELECT hash FROM audit WHERE id = 8)")  # fmt: skip
    assert log.verify().ok
    assert log.head() != anchored  # an externally kept head() copy exposes it


def test_head_record_missing_is_reported(path, log):
    fill(log, 1)
    tamper(path, "DELETE FROM audit_head")
    result = log.verify()
    assert (result.ok, result.first_broken_id, result.reason) == (False, 3, "head record missing")


def test_reordered_ids_are_reported(path, log):
    fill(log, 5)
    tamper(path, "UPDATE audit SET id = -3 WHERE id = 3", "UPDATE audit SET id = 3 WHERE id = 4",
           "UPDATE audit SET id = 4 WHERE id = -3")  # fmt: skip
    result = log.verify()
    assert (result.ok, result.first_broken_id) == (False, 3)


def test_inserted_forged_row_is_reported(path, log):
    fill(log, 2)
    tamper(path, "INSERT INTO audit SELECT 5, ts, kind, operation, card_serial, reader, actor, "
                 "intent_id, outcome, sequence, error_code, detail, prev_hash, hash, site_id "
                 "FROM audit WHERE id = 4")  # fmt: skip
    result = log.verify()
    assert (result.ok, result.first_broken_id) == (False, 5)


def test_pending_lists_intents_without_definite_outcome(log):
    a = log.intent(operation="issue", card_serial=SERIAL, reader="r", actor="x", detail={}, now=NOW)
    b = log.intent(
        operation="resign", card_serial=SERIAL, reader="r", actor="x", detail={}, now=NOW
    )
    c = log.intent(operation="renew", card_serial=SERIAL, reader="r", actor="x", detail={}, now=NOW)
    log.outcome(a, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    log.outcome(b, success=None, sequence=None, error_code="CARD_REMOVED", detail={}, now=NOW)
    assert [e.id for e in log.pending()] == [b, c]
    log.outcome(b, success=True, sequence=2, error_code=None, detail={}, now=NOW, reconciled=True)
    log.outcome(c, success=False, sequence=None, error_code=None, detail={}, now=NOW,
                reconciled=True)  # fmt: skip
    assert log.pending() == []
    outcomes = [e.outcome for e in log.entries() if e.kind == "outcome"]
    assert outcomes == ["reconciled_failure", "reconciled_success", "unknown", "success"]
    assert log.verify().ok


def test_outcome_errors(log):
    ev = log.event(operation="revoke", card_serial=SERIAL, actor="a", detail={}, now=NOW)
    with pytest.raises(NotFoundError):
        log.outcome(99, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    with pytest.raises(NotFoundError):
        log.outcome(ev, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    intent = log.intent(operation="issue", card_serial=SERIAL, reader="r", actor="a",
                        detail={}, now=NOW)  # fmt: skip
    log.outcome(intent, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    with pytest.raises(AuditStateError) as err:
        log.outcome(intent, success=False, sequence=None, error_code=None, detail={}, now=NOW)
    assert err.value.code == "AUDIT_STATE"
    assert log.count() == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"operation": ""}, "operation"),
        ({"card_serial": 5}, "card_serial"),
        ({"reader": "line\nbreak"}, "reader"),
        ({"actor": "bad\ud800"}, "actor"),
        ({"detail": {"t": datetime(2026, 1, 1)}}, "detail"),
        ({"detail": {"x": float("nan")}}, "detail"),
    ],
)
def test_bad_input_is_a_validation_error_and_writes_nothing(log, kwargs, field):
    args = {"operation": "issue", "card_serial": SERIAL, "reader": "r", "actor": "a",
            "detail": {}, "now": NOW} | kwargs  # fmt: skip
    with pytest.raises(ValidationError) as err:
        log.intent(**args)
    assert err.value.field == field
    assert log.count() == 0 and log.head() == (0, GENESIS_HASH)


def test_bad_sequence_in_outcome_is_refused(log):
    intent = log.intent(operation="issue", card_serial=SERIAL, reader="r", actor="a",
                        detail={}, now=NOW)  # fmt: skip
    with pytest.raises(ValidationError) as err:
        log.outcome(intent, success=True, sequence=True, error_code=None, detail={}, now=NOW)
    assert err.value.field == "sequence"
    assert log.pending()[0].id == intent


def test_entries_filters_and_paging(log):
    fill(log, 3)
    other = log.event(operation="revoke", card_serial="fedcba9876543210", actor="a", detail={},
                      now=NOW)  # fmt: skip
    assert [e.id for e in log.entries(limit=2)] == [other, 6]
    assert [e.id for e in log.entries(card_serial=SERIAL)] == [6, 5, 4, 3, 2, 1]
    assert [e.id for e in log.entries(card_serial="fedcba9876543210")] == [other]
    assert [e.id for e in log.entries(after_id=4)] == [7, 6, 5]
    assert [e.id for e in log.entries(before_id=3)] == [2, 1]
    assert log.entries(card_serial="0000000000000000") == []
    for bad in (0, -1, 10_001, True):
        with pytest.raises(ValidationError):
            log.entries(limit=bad)


def test_threads_append_concurrently_and_chain_stays_linear(log):
    def worker(n: int) -> None:
        for i in range(25):
            intent = log.intent(operation="resign", card_serial=SERIAL, reader=f"r{n}",
                                actor=f"t{n}", detail={"i": i}, now=NOW)  # fmt: skip
            log.outcome(intent, success=True, sequence=i, error_code=None, detail={}, now=NOW)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = log.verify()
    assert (result.ok, result.entries) == (True, 300)
    assert log.pending() == []


def test_two_log_objects_on_one_file_keep_one_chain(path):
    """The CLI and the daemon may each open the log: appends serialize on SQLite's lock."""
    first, second = AuditLog(path), AuditLog(path)

    def worker(log: AuditLog) -> None:
        for _ in range(40):
            log.event(operation="probe", card_serial=None, actor="x", detail={}, now=NOW)

    threads = [threading.Thread(target=worker, args=(lg,)) for lg in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert first.verify() == second.verify()
    assert (first.verify().ok, first.verify().entries) == (True, 80)
    first.close()
    second.close()


def test_log_survives_reopen(path):
    log = AuditLog(path)
    fill(log, 2)
    head = log.head()
    log.close()
    again = AuditLog(path)
    assert again.head() == head
    assert again.verify().ok
    again.event(operation="revoke", card_serial=SERIAL, actor="a", detail={}, now=NOW)
    assert again.verify().entries == 5
    again.close()


def test_pending_for_one_card_uses_the_serial(tmp_path):
    from datetime import UTC, datetime

    from cardservice.store.audit import AuditLog

    log = AuditLog(tmp_path / "a.db")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    a = log.intent(operation="resign", card_serial="aa" * 8, reader="r", actor=None,
                   detail={}, now=now)
    b = log.intent(operation="resign", card_serial="bb" * 8, reader="r", actor=None,
                   detail={}, now=now)
    assert [e.id for e in log.pending(card_serial="aa" * 8)] == [a]
    assert [e.id for e in log.pending()] == [a, b]
    log.outcome(a, success=True, sequence=2, error_code=None, detail={}, now=now)
    assert log.pending(card_serial="aa" * 8) == []
    plan = log._conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM audit WHERE kind = 'intent' AND card_serial = ?",
        ("aa" * 8,)).fetchall()
    assert any("audit_by_serial" in str(row) for row in plan)
