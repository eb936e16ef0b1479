"""SQLite audit entries record their site (schema v2): a data directory written before keeps its
old entries verifiable after `db upgrade`, and the site is part of every new entry's hash."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from cardservice.errors import SchemaOutdatedError
from cardservice.store import migrations
from cardservice.store.audit import GENESIS_HASH, AuditLog, canonical_bytes, entry_hash
from cardservice.store.audit_schema import COMPONENT
from cardservice.store.database import SqliteDatabase
from cardservice.store.stores import Stores

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
TS = "2026-03-01T09:30:00.000000+00:00"


def _v1_directory(path) -> None:
    """An audit file as the code before sites wrote it: two entries, 12-field canonical."""
    db = SqliteDatabase(path)
    migrations.upgrade(db, migrations.Component("audit", COMPONENT.steps[:1]))
    prev = GENESIS_HASH
    for i in (1, 2):
        fields = (i, TS, "event", "revoke", f"{i:016x}", None, "cli", None, None, None, None,
                  '{"reason":"lost"}')
        digest = entry_hash(prev, canonical_bytes(fields))
        db.raw.execute("INSERT INTO audit (id, ts, kind, operation, card_serial, reader, actor, "
                       "intent_id, outcome, sequence, error_code, detail, prev_hash, hash) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*fields, prev, digest))
        db.raw.execute("UPDATE audit_head SET last_id = ?, last_hash = ?", (i, digest))
        prev = digest
    db.close()


def test_old_directory_upgrades_and_new_entries_record_the_site(tmp_path):
    _v1_directory(tmp_path / "audit.db")
    with pytest.raises(SchemaOutdatedError, match="cardservice db upgrade"):
        AuditLog(tmp_path / "audit.db")
    stores = Stores(tmp_path, site_id="town-3")
    assert stores.upgrade()["audit"] == [2, 3, 4]  # the site, open intents, signatures
    log = stores.audit()
    log.event(operation="revoke", card_serial="0000000000000003", actor="cli",
              detail={"reason": "lost"}, now=NOW)
    assert [e.site_id for e in reversed(log.entries())] == [None, None, "town-3"]
    result = log.verify()
    assert result.ok and result.entries == 3
    stores.close()


def test_the_site_is_hashed_into_the_entry(tmp_path):
    db = SqliteDatabase(tmp_path / "audit.db", site_id="town-3")
    log = AuditLog(db)
    log.event(operation="revoke", card_serial="0000000000000001", actor="cli", detail={}, now=NOW)
    entry = log.entries()[0]
    fields = (1, TS, "event", "revoke", "0000000000000001", None, "cli", None, None, None, None,
              "{}", "town-3")
    assert entry.hash == entry_hash(GENESIS_HASH, canonical_bytes(fields))
    db.close()
    raw = sqlite3.connect(tmp_path / "audit.db")
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("UPDATE audit SET site_id = 'town-9'")
    raw.commit()
    raw.close()
    reopened = AuditLog(tmp_path / "audit.db")
    result = reopened.verify()
    assert (result.ok, result.first_broken_id, result.reason) == (
        False, 1, "hash does not match content")
    reopened.close()
