"""The per-site hash chains on PostgreSQL: several sites append at once, verify checks every
chain and says which site broke where (edits made as the superuser, triggers disabled)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from cardservice.store.audit_pg import PgAuditLog, canonical_pg
from cardservice.store.database import PostgresDatabase
from tests.pg import upgrade_all

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SITES = ("site-a", "site-b", "site-c")


@pytest.fixture
def county(pg_cluster):
    url = pg_cluster.new_database("chains")
    dbs = {site: PostgresDatabase(url, site_id=site) for site in SITES}
    upgrade_all(dbs["site-a"])
    logs = {site: PgAuditLog(db) for site, db in dbs.items()}

    def work(site: str) -> None:
        for i in range(20):
            logs[site].event(operation="revoke", card_serial=f"{i:016x}", actor=site,
                             detail={"i": i, "地址": "和平路"}, now=NOW)

    threads = [threading.Thread(target=work, args=(s,)) for s in SITES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    yield url, logs
    for db in dbs.values():
        db.close()


def _tamper(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        conn.execute(statement)
        conn.execute("ALTER TABLE audit ENABLE TRIGGER USER")


def test_sites_append_at_once_one_chain_each(county):
    _, logs = county
    result = logs["site-a"].verify()
    assert result.ok and result.entries == 60
    assert result.sites == {"site-a": 20, "site-b": 20, "site-c": 20}
    entry = logs["site-b"].entries(limit=1)[0]
    assert entry.site_id in SITES and entry.site_seq >= 1
    assert logs["site-b"].head()[0] == 20


def test_python_canonical_matches_postgresql(county):
    """Appends hash canonical_pg() in Python; verify hashes json_build_array() in the server."""
    url, _ = county
    fields = ("site_id, site_seq, ts, kind, operation, card_serial, reader, actor, intent_id, "
              "outcome, sequence, error_code, detail")
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT {fields}, json_build_array({fields})::text FROM audit"
                            ).fetchall()
    assert len(rows) == 60
    for row in rows:
        assert canonical_pg(row[:13]) == row[13].encode("utf-8")


@pytest.mark.parametrize(("statement", "reason"), [
    ("UPDATE audit SET detail = '{\"i\":99}' WHERE site_id = 'site-b' AND site_seq = 7",
     "hash does not match content"),
    ("DELETE FROM audit WHERE site_id = 'site-b' AND site_seq = 7",
     "entry 7 of site site-b is missing (next present is 8)"),
    ("UPDATE audit SET prev_hash = hash WHERE site_id = 'site-b' AND site_seq = 7",
     "prev_hash does not match"),
])
def test_verify_names_the_site_and_entry_that_broke(county, statement, reason):
    url, logs = county
    _tamper(url, statement)
    result = logs["site-a"].verify()
    assert (result.ok, result.site, result.reason) == (False, "site-b", reason)
    with psycopg.connect(url) as conn:
        broken_seq = conn.execute("SELECT site_seq FROM audit WHERE id = %s",
                                  (result.first_broken_id,)).fetchone()
    assert broken_seq[0] in (7, 8)
