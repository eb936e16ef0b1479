"""On PostgreSQL the sites' role can only INSERT and SELECT the audit log: the database itself
refuses UPDATE, DELETE and TRUNCATE for that role, and any write to the open-intent table the
log's trigger keeps; every site's chain still verifies."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from cardservice.store.audit_pg import PgAuditLog
from cardservice.store.database import PostgresDatabase
from cardservice.store.pg_roles import site_grants
from cardservice.store.registry import Registry
from tests.pg import upgrade_all

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def site_url(pg_cluster):
    owner_url = pg_cluster.new_database("grants")
    owner = PostgresDatabase(owner_url, site_id="county")
    upgrade_all(owner)
    owner.close()
    dbname = owner_url.split("/")[3].split("?")[0]
    pg_cluster.sql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                   "'cs_site') THEN CREATE ROLE cs_site LOGIN; END IF; END $$")
    for statement in site_grants("cs_site"):
        pg_cluster.sql(statement, dbname)
    return pg_cluster.url(dbname, user="cs_site")


def test_site_role_appends_and_reads_but_cannot_rewrite_the_audit_log(site_url):
    db = PostgresDatabase(site_url, site_id="site-a")
    log = PgAuditLog(db)
    first = log.event(operation="revoke", card_serial="0123456789abcdef", actor="t",
                      detail={"reason": "lost"}, now=NOW)
    log.event(operation="revoke", card_serial="0123456789abcdef", actor="t", detail={}, now=NOW)
    Registry(db).count()  # the registry is usable with the same role
    assert log.verify().ok and log.checkpoints()["site-a"][0] == 2  # the site records it
    # the open-intent table is kept by a trigger that runs as the owner: the site's intents
    # and outcomes keep it, the site itself may only read it
    intent = log.intent(operation="issue", card_serial="0123456789abcdef", reader="r",
                        actor="t", detail={}, now=NOW)
    assert [e.id for e in log.pending()] == [intent]
    log.outcome(intent, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    assert log.pending() == []
    with psycopg.connect(site_url, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "cs_site"
        for statement in (f"UPDATE audit SET detail = '{{}}' WHERE id = {first}",
                          f"DELETE FROM audit WHERE id = {first}",
                          "TRUNCATE audit",
                          "UPDATE audit_checkpoint SET site_seq = 1",
                          "DELETE FROM audit_checkpoint",
                          "DELETE FROM audit_import",
                          "TRUNCATE audit_checkpoint",
                          f"INSERT INTO audit_open VALUES ({first}, 'x')",
                          "DELETE FROM audit_open"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert log.verify(full=True).ok and log.count() == 4
    db.close()


def test_owner_is_refused_by_the_append_only_trigger(pg_cluster):
    url = pg_cluster.new_database("owner")
    db = PostgresDatabase(url, site_id="site-a")
    upgrade_all(db)
    PgAuditLog(db).event(operation="x", card_serial=None, actor=None, detail={}, now=NOW)
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit SET detail = '{}'")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM audit")
        for table in ("audit_checkpoint", "audit_import"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(f"TRUNCATE {table}")
    db.close()
