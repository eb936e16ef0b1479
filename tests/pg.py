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

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardservice.store import migrations
from cardservice.store.database import Database, PostgresDatabase, SqliteDatabase
from cardservice.store.stores import Stores, load_components

PG_USER = "postgres"
PORT = 5432  # the socket lives in a private directory: no clash with any other server


def pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); "
                           "run scripts/install-system-deps.sh")
    return Path(found[-1]).parent


class PgCluster:
    """One private PostgreSQL server: data and socket in a temp dir."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="cardservice-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log = self.root / "server.log"
        self._names = itertools.count(1)
        self.running = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        self.socket_dir.mkdir()
        if self.as_root:
            info = pwd.getpwnam(PG_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, info.pw_uid, info.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.start()

    def start(self) -> None:
        opts = (f"-k {self.socket_dir} -c listen_addresses='' -p {PORT} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w",
                  "-t", "60", "start")
        self.running = True

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut), data kept."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self.running = False

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres", user: str = PG_USER) -> str:
        return f"postgresql://{user}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, prefix: str = "t") -> str:
        """An empty database; returns its URL (as the superuser)."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)


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
