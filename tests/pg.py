"""A throw-away PostgreSQL cluster for the test session, and the two-backend store fixture.

``pg_cluster`` (session): Debian's PostgreSQL (``/usr/lib/postgresql/<v>/bin``, installed by
scripts/install-system-deps.sh): ``initdb`` into a temp dir as user ``postgres`` (when the tests
run as root; as the current user otherwise), listening only on a Unix socket in a private
directory, stopped and removed at the end. Nothing outside that temp dir is touched.

``backend`` (parametrised ``sqlite`` | ``postgresql``): ``backend.database(component)`` gives a
:class:`Database` on that backend (PostgreSQL: a fresh database per test, schema upgraded as
``cardservice db upgrade`` does), ``backend.stores()`` a ``Stores``; see docs/storage.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.pgcluster import PgCluster
from cardservice.store import migrations
from cardservice.store.database import Database, PostgresDatabase, SqliteDatabase
from cardservice.store.stores import Stores, load_components

__all__ = ["Backend", "PgCluster", "backend", "pg_cluster", "read_only", "upgrade_all"]

@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


def upgrade_all(db: Database) -> None:
    """Create every registered component's schema, as `cardservice db upgrade` does."""
    for name, component in sorted(load_components().items()):
        migrations.upgrade(db, component)


def read_only(cluster: PgCluster, url: str, on: bool = True) -> None:
    """Fence the database at ``url`` read-only (or lift it) and cut its connections, as a
    failover does: a pool notices the cut ones, and its new connections get the new setting
    (writes then fail with SQLSTATE 25006, as on a standby)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = '
                      f'{"on" if on else "off"}')
        admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


class Backend:
    """Stores on one backend for one test; ``site()`` sees the same data from another site."""

    def __init__(self, name: str, tmp: Path, url: str | None, site_id: str = "site-a") -> None:
        self.name, self.tmp, self.url, self.site_id = name, tmp, url, site_id
        self._opened: list = []

    def database(self, component: str = "registry") -> Database:
        if self.url is None:
            db = SqliteDatabase(self.tmp / f"{component}.db", site_id=self.site_id)
        else:
            db = PostgresDatabase(self.url, site_id=self.site_id)
            upgrade_all(db)
        self._opened.append(db)
        return db

    def stores(self) -> Stores:
        stores = Stores(self.tmp, database_url=self.url, site_id=self.site_id)
        self._opened.append(stores)
        if self.url is not None:
            stores.upgrade()
        return stores

    def site(self, site_id: str) -> Backend:
        other = Backend(self.name, self.tmp, self.url, site_id)
        other._opened = self._opened
        return other

    def close(self) -> None:
        for item in reversed(self._opened):
            item.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Iterator[Backend]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_cluster").new_database()
    chosen = Backend(request.param, tmp_path, url)
    yield chosen
    chosen.close()
