"""Reads reused while nothing was written (``Database.cached``): a write by another connection
or another process, or by this connection itself, shows in the very next read; on PostgreSQL
every read asks the server."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from cardservice.store.audit import AuditLog
from cardservice.store.database import SqliteDatabase
from cardservice.store.registry import CardStatus, Registry
from cardservice.store.tokens import TokenStore

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SERIAL = "0123456789abcdef"
CITIZEN = "11010519491231002X"


def _issue(reg: Registry, serial: str = SERIAL, citizen: str = CITIZEN) -> None:
    reg.record_issue(serial=serial, citizen_number=citizen, sequence=1,
                     issuing_authority="示范县公安局", permit_type="temporary", basis=None,
                     expires_on=date(2026, 9, 1), sponsor_citizen_number=None, now=NOW)


def _count_selects(db: SqliteDatabase, table: str) -> list[str]:
    seen: list[str] = []
    db.raw.set_trace_callback(
        lambda sql: seen.append(sql) if sql.startswith("SELECT") and table in sql else None)
    return seen


def test_revocation_by_another_connection_shows_at_once(backend):
    reader = Registry(backend.database("registry"))
    writer = Registry(backend.database("registry"))
    _issue(writer)
    assert reader.get(SERIAL).status is CardStatus.ACTIVE
    assert reader.get(SERIAL).status is CardStatus.ACTIVE  # reused on SQLite
    writer.revoke(SERIAL, "lost", NOW)
    assert reader.get(SERIAL).status is CardStatus.LOST


def test_own_write_shows_at_once(backend):
    reg = Registry(backend.database("registry"))
    assert reg.get(SERIAL) is None
    _issue(reg)
    assert reg.get(SERIAL).last_sequence == 1
    reg.record_write(serial=SERIAL, sequence=4, issuing_authority="示范县公安局",
                     permit_type="temporary", basis=None, expires_on=date(2026, 9, 1), now=NOW)
    assert reg.get(SERIAL).last_sequence == 4
    reg.revoke(SERIAL, "withdrawn", NOW)
    assert reg.get(SERIAL).revoked_reason == "withdrawn"


def test_token_revoked_elsewhere_is_refused_at_the_next_request(backend):
    daemon = TokenStore(backend.database("tokens"))
    cli = TokenStore(backend.database("tokens"))
    secret, info = cli.create("kiosk", "reader", NOW)
    assert daemon.authenticate(secret) == info
    assert daemon.authenticate(secret) == info
    cli.revoke("kiosk", NOW)
    assert daemon.authenticate(secret) is None
    own_secret, _ = daemon.create("desk", "operator", NOW)
    assert daemon.authenticate(own_secret).name == "desk"
    daemon.revoke("desk", NOW)
    assert daemon.authenticate(own_secret) is None


def test_sqlite_reuses_a_read_only_while_nothing_was_written(tmp_path: Path):
    db = SqliteDatabase(tmp_path / "registry.db")
    reg = Registry(db)
    _issue(reg)
    selects = _count_selects(db, "FROM cards")
    for _ in range(3):
        assert reg.get(SERIAL).status is CardStatus.ACTIVE
    assert len(selects) == 1
    other = Registry(tmp_path / "registry.db")
    _issue(other, "fedcba9876543210", "440524188001010014")  # another connection's commit, another card
    assert reg.get(SERIAL).status is CardStatus.ACTIVE
    assert len(selects) == 2
    other.close()


def test_revocation_by_another_process_shows_at_once(tmp_path: Path):
    path = tmp_path / "registry.db"
    reg = Registry(path)
    _issue(reg)
    assert reg.get(SERIAL).status is CardStatus.ACTIVE
    script = ("import sys; from datetime import datetime, UTC; "
              "from cardservice.store.registry import Registry; "
              "Registry(sys.argv[1]).revoke(sys.argv[2], 'lost', datetime.now(UTC))")
    subprocess.run([sys.executable, "-c", script, str(path), SERIAL], check=True, timeout=60)
    assert reg.get(SERIAL).status is CardStatus.LOST


def test_pending_intents_follow_every_write(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.db")
    other = AuditLog(tmp_path / "audit.db")
    assert log.pending(SERIAL) == []
    intent = other.intent(operation="resign", card_serial=SERIAL, reader="r", actor=None,
                          detail={"sequence": 2}, now=NOW)
    assert [e.id for e in log.pending(SERIAL)] == [intent]
    entry = log.pending(SERIAL)[0]
    entry.detail["sequence"] = 99  # a caller's change does not reach the next read
    assert log.pending(SERIAL)[0].detail == {"sequence": 2}
    log.outcome(intent, success=True, sequence=2, error_code=None, detail=None, now=NOW)
    assert log.pending(SERIAL) == [] and other.pending(SERIAL) == []
    other.close()
    log.close()
