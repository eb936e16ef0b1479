"""The per-site hash chains on PostgreSQL: several sites append at once, verify checks every
chain and says which site broke where (edits made as the superuser, triggers disabled)."""

from __future__ import annotations

import hashlib
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


def test_verify_records_a_checkpoint_per_chain_and_later_checks_from_it(county):
    _, logs = county
    first = logs["site-a"].verify()
    assert first.ok and first.full is False and first.checked_from == dict.fromkeys(SITES, 1)
    assert {s: cp[0] for s, cp in logs["site-c"].checkpoints().items()} == dict.fromkeys(SITES, 20)
    logs["site-b"].event(operation="revoke", card_serial=None, actor="b", detail={}, now=NOW)
    again = logs["site-c"].verify()
    assert again.ok and again.checked_from == dict.fromkeys(SITES, 20)
    assert again.sites == {"site-a": 1, "site-b": 2, "site-c": 1}
    assert logs["site-a"].checkpoints()["site-b"][0] == 21
    full = logs["site-a"].verify(full=True)
    assert full.ok and full.full and full.sites == {"site-a": 20, "site-b": 21, "site-c": 20}


def test_an_edit_before_the_checkpoint_needs_a_full_verify(county):
    url, logs = county
    assert logs["site-a"].verify().ok
    _tamper(url, "UPDATE audit SET detail = '{\"i\":99}' WHERE site_id = 'site-b' AND site_seq = 3")
    assert logs["site-a"].verify().ok  # from the checkpoints on: entry 3 is not looked at
    full = logs["site-a"].verify(full=True)
    assert (full.ok, full.site, full.reason) == (False, "site-b", "hash does not match content")


@pytest.mark.parametrize("full", [False, True])
def test_a_tail_cut_off_below_the_checkpoint_is_found(county, full):
    url, logs = county
    assert logs["site-a"].verify().ok
    _tamper(url, "DELETE FROM audit WHERE site_id = 'site-c' AND site_seq >= 18")
    result = logs["site-a"].verify(full=full)
    assert (result.ok, result.site) == (False, "site-c")
    assert result.reason == "chain of site site-c ends at entry 17, before its checkpoint at entry 20"


def test_an_entry_rewritten_with_a_consistent_tail_differs_from_the_checkpoint(county):
    """A rewrite from entry 5 on, every hash recomputed: each link holds, the checkpoint not."""
    url, logs = county
    assert logs["site-a"].verify().ok
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        fields = ("site_id, site_seq, ts, kind, operation, card_serial, reader, actor, intent_id, "
                  "outcome, sequence, error_code, detail")
        rows = conn.execute(f"SELECT id, {fields}, hash FROM audit WHERE site_id = 'site-a' "
                            "ORDER BY site_seq").fetchall()
        prev = bytes(rows[3][14])
        for row in rows[4:]:
            values = list(row[1:14])
            if values[1] == 5:
                values[12] = '{"i":"forged"}'
            digest = hashlib.sha256(prev + canonical_pg(tuple(values))).digest()
            conn.execute("UPDATE audit SET detail = %s, prev_hash = %s, hash = %s WHERE id = %s",
                         (values[12], prev, digest, row[0]))
            prev = digest
        conn.execute("ALTER TABLE audit ENABLE TRIGGER USER")
    for full in (False, True):
        result = logs["site-b"].verify(full=full)
        assert (result.ok, result.site) == (False, "site-a")
        assert result.reason == "hash differs from the checkpoint at entry 20"
