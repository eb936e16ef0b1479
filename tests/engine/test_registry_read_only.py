"""A registry database that takes no writes refuses every write as REGISTRY_UNAVAILABLE (retriable)
before any card APDU that writes, and reads go on working (docs/deployment.md, "What the service
does during a failover").

Two ways a site meets such a server: its primary is fenced read-only during a failover (here:
``default_transaction_read_only`` on the database and every connection cut, so the pool's new
ones come back read-only), or the site was pointed at the hot standby (here: a real streaming
replica). PostgreSQL refuses the write with SQLSTATE 25006, which psycopg calls an InternalError.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from card_layout.files import Ins
from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Status
from cardservice.pki.keys import DataDir, load_keys
from cardservice.store.audit_pg import PgAuditLog
from cardservice.store.database import READ_ONLY_MESSAGE, PostgresDatabase
from cardservice.store.registry import Registry
from tests.engine.conftest import identity, taken_out_mid_write, temporary
from tests.pg import PgCluster, read_only, upgrade_all

MOVE = PermitRequest(current_residence="博乐市新城街道和平路9号")
UPDATE_BINARY = 0xD6


def open_engine(demo_home: DataDir, db: PostgresDatabase, clock) -> Engine:
    return Engine(load_keys(demo_home), Registry(db), PgAuditLog(db), clock=clock)


@pytest.fixture
def county(pg_cluster) -> Iterator[tuple[str, PostgresDatabase]]:
    url = pg_cluster.new_database("ro")
    db = PostgresDatabase(url, site_id="site-a")
    upgrade_all(db)
    yield url, db
    db.close()


@pytest.fixture
def engine(demo_home, county, clock) -> Engine:  # the engine of tests/engine on PostgreSQL
    return open_engine(demo_home, county[1], clock)


def sent_instructions(card) -> list[int]:
    """Record the INS byte of every APDU the card gets from now on (the list fills up)."""
    seen: list[int] = []
    original = card.os.process

    def observed(apdu: bytes) -> bytes:
        seen.append(apdu[1])
        return original(apdu)

    card.os.process = observed
    return seen


def test_a_fenced_database_refuses_the_resign_before_any_write_apdu(engine, county, pg_cluster,
                                                                     conn, card):
    engine.issue(conn, identity(), temporary())
    serial = card.image.serial.hex()
    entries = engine.audit.count()
    read_only(pg_cluster, county[0])
    before, updates = card.image.to_json()["files"], card.update_count
    reading = sent_instructions(card)
    view = engine.read(conn)  # a read never fails because of the registry
    assert view.report.status == Status.VALID and view.registry_error is None
    assert view.registry.last_sequence == 1
    writing = sent_instructions(card)
    with pytest.raises(errors.RegistryUnavailableError) as refused:
        engine.resign(conn, MOVE)
    assert refused.value.retriable and refused.value.code == "REGISTRY_UNAVAILABLE"
    assert READ_ONLY_MESSAGE in refused.value.message
    assert set(writing) <= set(reading) and UPDATE_BINARY not in writing  # it only read
    assert card.image.to_json()["files"] == before and card.update_count == updates
    row = engine.registry.get(serial)
    assert row.last_sequence == 1 and row.pending_sequence is None
    assert engine.audit.count() == entries  # no intent either: the audit log is read-only too

    read_only(pg_cluster, county[0], on=False)  # the new primary: no restart needed
    assert engine.resign(conn, MOVE).report.record.sequence == 2


def test_a_fenced_database_refuses_an_issue_and_the_card_stays_blank(engine, county,
                                                                      pg_cluster, conn, card):
    """Refused before the chip makes its key pair (the first thing an issue has the card
    do) and before any UPDATE BINARY; the intent, made after the key pair, is refused too."""
    read_only(pg_cluster, county[0])
    writing = sent_instructions(card)
    with pytest.raises(errors.RegistryUnavailableError, match="read-only"):
        engine.issue(conn, identity(), temporary())
    assert UPDATE_BINARY not in writing and card.update_count == 0
    assert Ins.GENERATE_KEY_PAIR not in writing and Ins.EXTERNAL_AUTHENTICATE not in writing
    assert engine.read(conn).report.status == Status.BLANK
    assert engine.registry.get(card.image.serial.hex()) is None


def test_a_pending_write_does_not_break_a_read_while_the_database_is_fenced(
        engine, county, pg_cluster, conn, card):
    """The read settles pending intents; their outcome cannot be written now, so the card is
    shown with a registry_error instead of a failed read (before: psycopg's InternalError)."""
    engine.issue(conn, identity(), temporary())
    with taken_out_mid_write(card), pytest.raises(errors.CardServiceError):
        engine.resign(conn, MOVE)
    assert len(engine.audit.pending()) == 1
    read_only(pg_cluster, county[0])
    card.insert()
    view = engine.read(conn)
    assert view.report.status == Status.VALID and view.report.record.sequence == 2
    assert view.registry_error["code"] == "REGISTRY_UNAVAILABLE"
    assert view.registry_error["retriable"] and not view.registry_error["pending_write"]
    assert len(engine.audit.pending()) == 1  # still pending: settled by a later read
    read_only(pg_cluster, county[0], on=False)
    assert engine.read(conn).registry_error is None and engine.audit.pending() == []


def test_pg_ping_reports_a_read_only_server(county, pg_cluster):
    url, db = county
    db.ping()
    read_only(pg_cluster, url)
    with pytest.raises(errors.RegistryUnavailableError, match="read-only"):
        db.ping()
    with db.connection() as tx:  # reads are fine
        assert tx.execute("SELECT count(*) FROM cards").fetchone()[0] == 0


# --- a site pointed at the hot standby --------------------------------------------------------


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary of its own (a standby copies every database of its primary) and its standby."""
    primary = PgCluster()
    try:
        primary.init()
        standby = primary.standby()
        try:
            yield primary, standby
        finally:
            standby.destroy()
    finally:
        primary.destroy()


def caught_up(primary: PgCluster, standby: PgCluster) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + 30
    with psycopg.connect(standby.url(), autocommit=True) as conn:
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                               (lsn,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)


def test_a_site_pointed_at_the_standby_reads_but_refuses_writes(demo_home, replicated, clock,
                                                                 conn, card):
    primary, standby = replicated
    name = conninfo_to_dict(primary.new_database("standby"))["dbname"]
    on_primary = PostgresDatabase(primary.url(name), site_id="site-a")
    upgrade_all(on_primary)
    open_engine(demo_home, on_primary, clock).issue(conn, identity(), temporary())
    on_primary.close()
    caught_up(primary, standby)
    on_standby = PostgresDatabase(standby.url(name), site_id="site-a")
    try:
        engine = open_engine(demo_home, on_standby, clock)
        view = engine.read(conn)
        assert view.report.status == Status.VALID and view.registry_error is None
        assert view.registry.last_sequence == 1
        before = card.image.to_json()["files"]
        with pytest.raises(errors.RegistryUnavailableError, match="read-only"):
            engine.resign(conn, MOVE)
        assert card.image.to_json()["files"] == before
    finally:
        on_standby.close()
