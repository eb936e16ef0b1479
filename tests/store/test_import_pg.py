"""`cardservice db import --from HOME`: a SQLite data directory moves into the county registry
under its site; a citizen active at two sites is a reported conflict, not a silent merge."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from cardservice.cli.main import main
from cardservice.errors import ValidationError
from cardservice.store.audit import AuditLog
from cardservice.store.audit_pg import PgAuditLog
from cardservice.store.database import PostgresDatabase
from cardservice.store.importer import import_home
from cardservice.store.registry import Registry
from tests.pg import upgrade_all
from tests.store.test_audit_site import _v1_directory

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SHARED, OWN = "11010519491231002X", "440524188001010014"


def _issue(reg, serial, citizen):
    reg.record_issue(serial=serial, citizen_number=citizen, sequence=1, issuing_authority="a",
                     permit_type="temporary", basis=None, expires_on=date(2026, 9, 1),
                     sponsor_citizen_number=None, now=NOW)


@pytest.fixture
def single_pc(tmp_path):
    home = tmp_path / "pc"
    reg, log = Registry(home / "registry.db"), AuditLog(home / "audit.db")
    for serial, citizen in (("00000000000000a1", SHARED), ("00000000000000a2", OWN)):
        intent = log.intent(operation="issue", card_serial=serial, reader="r", actor="t",
                            detail={"citizen_number": citizen}, now=NOW)
        log.outcome(intent, success=True, sequence=1, error_code=None, detail={}, now=NOW)
        _issue(reg, serial, citizen)
    reg.close()
    log.close()
    return home


@pytest.fixture
def county(pg_cluster):
    url = pg_cluster.new_database("import")
    db = PostgresDatabase(url, site_id="town-3")
    upgrade_all(db)
    other = PostgresDatabase(url, site_id="town-1")
    _issue(Registry(other), "00000000000000b1", SHARED)  # the shared citizen is active there
    yield url, db
    other.close()
    db.close()


def test_import_copies_rows_and_chain_and_reports_the_conflict(single_pc, county):
    _, db = county
    registry, audit = Registry(db), PgAuditLog(db)
    report = import_home(registry, audit, single_pc, NOW)
    assert (report.cards, report.audit_entries) == (1, 4)
    assert report.conflicts == [{"card_serial": "00000000000000a1", "citizen_number": SHARED,
                                 "reason": "citizen active at two sites",
                                 "county_card": "00000000000000b1", "county_site": "town-1"}]
    row = registry.get("00000000000000a2")
    assert (row.issued_site, row.last_sequence) == ("town-3", 1)
    assert registry.get("00000000000000a1") is None
    result = audit.verify()
    assert result.ok and result.sites == {"town-3": 5}
    entries = {e.id: e for e in audit.entries(limit=10)}
    outcomes = [e for e in entries.values() if e.kind == "outcome"]
    assert len(outcomes) == 2
    assert all(entries[o.intent_id].kind == "intent" for o in outcomes)  # county ids
    with pytest.raises(ValidationError, match="imported into site town-3 before"):
        import_home(registry, audit, single_pc, NOW)


def test_import_command(single_pc, county, monkeypatch, capsys, tmp_path):
    url, _ = county
    monkeypatch.setenv("CARDSERVICE_DATABASE_URL", url)
    monkeypatch.setenv("CARDSERVICE_SITE_ID", "town-3")
    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(tmp_path / "county-home"), "db", "import", "--from", str(single_pc)])
    assert exit_info.value.code == 3  # a conflict was reported
    out = capsys.readouterr().out
    assert "1 card(s), 4 audit entries imported, 1 conflict(s)" in out
    assert f"conflict: card 00000000000000a1 citizen {SHARED}" in out


def test_the_imported_chain_is_kept_with_its_hashes_and_verified(single_pc, county):
    url, db = county
    audit = PgAuditLog(db)
    source_head = AuditLog(single_pc / "audit.db").head()
    import_home(Registry(db), audit, single_pc, NOW)
    [event] = [e for e in audit.entries() if e.operation == "import"]
    assert event.detail["source_chain_kept"] is True
    assert event.detail["source_head_hash"] == source_head[1].hex()
    with psycopg.connect(url) as conn:
        kept = conn.execute("SELECT source_id, source_site, hash FROM audit_import WHERE "
                            "import_id = %s ORDER BY source_id", (event.id,)).fetchall()
    assert [(r[0], r[1]) for r in kept] == [(i, "local") for i in (1, 2, 3, 4)]
    assert bytes(kept[-1][2]) == source_head[1]  # the original hashes, not re-hashed ones
    assert audit.verify(full=True).ok
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_import DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_import SET actor = 'someone else' WHERE source_id = 2")
        conn.execute("ALTER TABLE audit_import ENABLE TRIGGER USER")
    result = audit.verify(full=True)
    assert (result.ok, result.site, result.first_broken_id) == (False, "town-3", event.id)
    assert result.reason == (f"chain imported by entry {event.id}: source entry 2: hash does not "
                             "match content")


def test_a_directory_from_before_sites_is_upgraded_and_imported(tmp_path, county):
    _, db = county
    home = tmp_path / "old-pc"
    home.mkdir()
    _v1_directory(home / "audit.db")
    report = import_home(Registry(db), PgAuditLog(db), home, NOW)
    assert (report.cards, report.audit_entries) == (0, 2)
    assert PgAuditLog(db).verify(full=True).ok
