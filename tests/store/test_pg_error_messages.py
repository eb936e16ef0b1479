"""What REGISTRY_UNAVAILABLE says on PostgreSQL: "unreachable" only when the server cannot be
reached; a server that gave up on the operation (here a cancelled query, SQLSTATE 57014) says so
with its SQLSTATE; one that takes no writes says "read-only". All stay retriable."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.store.database import PostgresDatabase


def test_a_cancelled_query_is_not_called_unreachable(pg_cluster) -> None:
    db = PostgresDatabase(pg_cluster.new_database("msg"), site_id="site-a")
    try:
        with pytest.raises(errors.RegistryUnavailableError) as exc, db.connection() as tx:
            tx.execute("SET statement_timeout = 10")
            tx.execute("SELECT pg_sleep(2)")
        assert exc.value.retriable
        assert exc.value.message.startswith(
            "the registry database could not complete the operation (SQLSTATE 57014)")
    finally:
        db.close()


def test_a_server_that_cannot_be_reached_is_unreachable(tmp_path) -> None:
    url = f"postgresql:///nowhere?host={tmp_path}&connect_timeout=1"
    with pytest.raises(errors.RegistryUnavailableError) as exc:
        db = PostgresDatabase(url, site_id="site-a")
        try:
            db.ping()
        finally:
            db.close()
    assert exc.value.message.startswith("the registry database is unreachable")
