"""A throw-away PostgreSQL server for the tests and the county benchmark.

Debian's PostgreSQL (``/usr/lib/postgresql/<v>/bin``, installed by
scripts/install-system-deps.sh): ``initdb`` into a temp dir as user ``postgres`` (when run as
root; as the current user otherwise), listening only on a Unix socket in a private directory.
``durable=False`` (tests) turns fsync off; the benchmark keeps PostgreSQL's durable defaults.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

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

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
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
        self._make_dirs()
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.start()

    def _make_dirs(self) -> None:
        self.socket_dir.mkdir()
        if self.as_root:
            info = pwd.getpwnam(PG_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, info.pw_uid, info.pw_gid)

    def standby(self) -> PgCluster:
        """A hot standby of this running server (streaming replication, read-only: what a site
        pointed at the standby sees), in a temp dir and on a private socket of its own.
        ``destroy()`` it before this one."""
        replica = PgCluster(durable=self.durable)
        try:
            replica._make_dirs()
            self._run("pg_basebackup", "-D", str(replica.data), "-R", "-X", "stream", "-c",
                      "fast", "--no-sync", "-h", str(self.socket_dir), "-p", str(PORT),
                      "-U", PG_USER)
            replica.start()
        except BaseException:
            replica.destroy()
            raise
        return replica

    def start(self) -> None:
        opts = f"-k {self.socket_dir} -c listen_addresses='' -p {PORT} -c max_connections=200"
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
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
