"""A signed card the county registry (PostgreSQL) does not know reads ``invalid``, revocation
failed ``not_registered``, and is not re-signed (which would adopt it into the registry): every
card issued in the county is registered, and a thief with a site's key can backdate a record's
``signed_at`` but not the registry. A site's own SQLite registry does not know other sites'
cards: there such a card reads valid with revocation not checked, as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Check, Result, Status
from cardservice.pki.keys import DataDir, load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.audit_pg import PgAuditLog
from cardservice.store.database import PostgresDatabase
from cardservice.store.registry import Registry
from tests.engine.conftest import identity, temporary
from tests.pg import upgrade_all

MOVE = PermitRequest(current_residence="博乐市新城街道和平路9号")


@pytest.fixture
def county_engine(pg_cluster, demo_home: DataDir, clock) -> Iterator[Engine]:
    db = PostgresDatabase(pg_cluster.new_database("county"), site_id="site-b")
    upgrade_all(db)
    yield Engine(load_keys(demo_home), Registry(db), PgAuditLog(db), clock=clock)
    db.close()


def _revocation(view) -> tuple[Result, str]:
    check = next(c for c in view.report.checks if c.check is Check.REVOCATION)
    return check.result, check.reason


def test_a_card_the_county_registry_does_not_know_is_invalid_and_not_resigned(
        engine: Engine, county_engine: Engine, conn, card) -> None:
    engine.issue(conn, identity(), temporary())  # signed with a county key, registered elsewhere
    assert engine.read(conn).report.status is Status.VALID

    view = county_engine.read(conn)
    assert view.report.status is Status.INVALID and view.registry is None
    assert _revocation(view) == (Result.FAILED, "not_registered")
    writes = card.update_count
    slots = [bytes(f.data) for f in card.image.files.values()]
    with pytest.raises(errors.CardInvalidError) as exc:
        county_engine.resign(conn, MOVE)
    assert "not_registered" in exc.value.message
    with pytest.raises(errors.CardInvalidError):
        county_engine.renew(conn, PermitRequest())
    assert [bytes(f.data) for f in card.image.files.values()] == slots
    assert card.update_count == writes
    assert county_engine.registry.get(card.image.serial.hex()) is None  # not adopted
    assert county_engine.audit.count() == 0


def test_a_registered_card_reads_valid_in_the_county(county_engine: Engine, conn) -> None:
    county_engine.issue(conn, identity(), temporary())
    view = county_engine.read(conn)
    assert view.report.status is Status.VALID
    assert _revocation(view) == (Result.SUCCEEDED, "ok")
    assert county_engine.resign(conn, MOVE).report.record.sequence == 2


def test_a_sites_own_registry_leaves_another_sites_card_not_checked(
        engine: Engine, demo_home: DataDir, tmp_path, clock, conn) -> None:
    engine.issue(conn, identity(), temporary())
    other = Engine(load_keys(demo_home), Registry(tmp_path / "other.db"),
                   AuditLog(tmp_path / "other-audit.db"), clock=clock)
    view = other.read(conn)
    assert view.report.status is Status.VALID
    assert _revocation(view) == (Result.NOT_CHECKED, "not_checked_registry")
