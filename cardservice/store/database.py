"""The storage seam: one small interface over the two backends, SQLite and PostgreSQL.

A store (registry, audit log, tokens, idempotency, and any module's own tables) holds a
:class:`Database` and writes portable SQL with ``?`` placeholders:

    with db.transaction() as tx:          # a write transaction: all or nothing
        tx.execute("UPDATE t SET a = ? WHERE id = ?", (1, 2))
    with db.connection() as tx:           # reads (autocommit)
        row = tx.execute("SELECT a FROM t WHERE id = ?", (2,)).fetchone()

* **SQLite** (the default, no configuration): one file per component in the data directory,
  one connection per file shared by threads under a lock; writes take ``BEGIN IMMEDIATE``.
* **PostgreSQL** (``CARDSERVICE_DATABASE_URL=postgresql://...``): one connection pool per
  process (psycopg 3 + psycopg_pool), shared by every component. Each checkout is checked (a
  poll of the idle socket; a round trip only if the server said something, e.g. that it shut
  down), so a database that went away and came back is used again without a restart. A
  database that cannot be reached raises :class:`RegistryUnavailableError`
  (``REGISTRY_UNAVAILABLE``, retriable), and so does one that takes no writes (a standby, or a
  primary fenced read-only in a failover): a write is refused before any card APDU.

Integrity errors of either backend are :attr:`Database.IntegrityError` (a tuple for ``except``);
:func:`constraint_name` tells which constraint or index refused the row.
"""

from __future__ import annotations

import functools
import logging
import re
import select
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cardservice.errors import RegistryUnavailableError
from cardservice.store import db as sqlite_db

logger = logging.getLogger(__name__)

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
#: seconds to wait for a connection to PostgreSQL before a request is refused as unavailable
CONNECT_TIMEOUT = 2.0
#: results :meth:`SqliteDatabase.cached` keeps before it drops them all and starts again
MEMO_SIZE = 4096
#: PostgreSQL's read_only_sql_transaction: the server takes no writes (a standby, or a primary
#: fenced read-only during a failover)
READ_ONLY_SQLSTATE = "25006"
READ_ONLY_MESSAGE = "the registry database is read-only (failover?)"

T = TypeVar("T")


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """One connection inside :meth:`Database.transaction` or :meth:`Database.connection`."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Any) -> None: ...


class Database:
    """What every store needs from a backend. ``backend`` is ``"sqlite"`` or ``"postgresql"``;
    ``site_id`` names this acceptance point (or the county centre)."""

    backend: str = ""
    site_id: str = "local"
    IntegrityError: tuple[type[BaseException], ...] = ()

    def transaction(self):  # -> ContextManager[Tx]
        raise NotImplementedError

    def connection(self):  # -> ContextManager[Tx]
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def cached(self, key: Hashable, load: Callable[[Tx], T]) -> T:
        """``load(tx)`` on a connection; the SQLite backend reuses the result of an earlier call
        with the same ``key`` while nothing was written to the database since (see
        :meth:`SqliteDatabase.cached`). PostgreSQL always loads: a write by another process must
        show at once, and nothing here tells this one when the server's data changed. ``load``
        must return a value nobody mutates (a tuple, a frozen dataclass, None)."""
        with self.connection() as tx:
            return load(tx)

    def ping(self) -> None:
        """Raise RegistryUnavailableError if the database cannot be reached now."""
        with self.connection() as tx:
            tx.execute("SELECT 1").fetchone()

    def describe(self) -> str:
        raise NotImplementedError


# --- SQLite ---------------------------------------------------------------------------------


class SqliteDatabase(Database):
    """One SQLite file (or ``":memory:"``); one connection guarded by a lock."""

    backend = SQLITE
    IntegrityError = (sqlite3.IntegrityError,)

    def __init__(self, path: Path | str, *, site_id: str = "local") -> None:
        self.path = str(path)
        self.site_id = site_id
        self.lock = threading.Lock()
        self.raw = sqlite_db.open_database(path)
        self._memo: dict[Hashable, Any] = {}
        self._memo_version: tuple[int, int] | None = None

    def cached(self, key: Hashable, load: Callable[[sqlite3.Connection], T]) -> T:
        """``load(conn)``, reused while the database file is unchanged.

        The version is SQLite's ``PRAGMA data_version``, which changes when any *other*
        connection (another process: the CLI, a second daemon; or another connection of this
        one) commits to the file, together with this connection's ``total_changes``, which
        grows with every row it inserts, updates or deletes itself (in any transaction, even one
        rolled back). Any change of either drops every kept result, so a revocation written
        anywhere is seen by the next call; only calls with nothing written in between share a
        result. Checking costs one PRAGMA (a read of the WAL index) instead of the query."""
        with self.lock:
            raw = self.raw
            version = (raw.execute("PRAGMA data_version").fetchone()[0], raw.total_changes)
            if version != self._memo_version:
                self._memo.clear()
                self._memo_version = version
            elif key in self._memo:
                return self._memo[key]
            value = load(raw)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = value
            return value

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with sqlite_db.write_transaction(self.raw, self.lock):
            yield self.raw

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self.raw

    def close(self) -> None:
        with self.lock:
            self.raw.close()

    def describe(self) -> str:
        return f"sqlite:{self.path}"


# --- PostgreSQL -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """``?`` placeholders -> psycopg's ``%s`` (a literal ``%`` is doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx:
    """A psycopg connection that speaks the seam's ``?`` placeholders."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(pg_sql(sql), params or None, prepare=bool(params))
        except _pg_unavailable() as exc:
            raise _unavailable(exc) from exc

    def executemany(self, sql: str, rows: Any) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.executemany(pg_sql(sql), rows)
        except _pg_unavailable() as exc:
            raise _unavailable(exc) from exc


def _pg_unavailable() -> tuple[type[BaseException], ...]:
    """The psycopg errors that mean "not now, try again": the server cannot be reached (its
    shutdown and start-up refusals, 57P01-57P03, are OperationalError too), or it takes no
    writes (25006, an InternalError to psycopg: a standby, a primary fenced read-only)."""
    import psycopg
    import psycopg_pool

    return (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg.InterfaceError,
            psycopg.errors.ReadOnlySqlTransaction)


def _unavailable(exc: BaseException) -> RegistryUnavailableError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    state = getattr(exc, "sqlstate", None)
    if state == READ_ONLY_SQLSTATE:
        return RegistryUnavailableError(f"{READ_ONLY_MESSAGE}: {text}")
    if state is not None and not state.startswith(("08", "57P")):
        # reached, but it gave up on this operation (a deadlock, a serialization failure, a
        # cancelled query, a full disk): "unreachable" would send an operator the wrong way
        return RegistryUnavailableError(
            f"the registry database could not complete the operation (SQLSTATE {state}): {text}")
    return RegistryUnavailableError(f"the registry database is unreachable: {text}")


class PostgresDatabase(Database):
    """A psycopg connection pool on one database; every component shares it."""

    backend = POSTGRESQL

    def __init__(self, url: str, *, site_id: str, max_size: int = 8,
                 timeout: float = CONNECT_TIMEOUT) -> None:
        import psycopg
        import psycopg_pool

        self.url = url
        self.site_id = site_id
        self.timeout = timeout
        self.IntegrityError = (psycopg.errors.IntegrityError,)
        self.pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, timeout=timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout)),
                    "application_name": f"cardservice:{site_id}"[:63]},
            check=_check_idle_connection, reconnect_timeout=0,
            name=f"cardservice-{site_id}",
        )
        self.pool.open(wait=False)

    @contextmanager
    def connection(self) -> Iterator[_PgTx]:
        try:
            with self.pool.connection(timeout=self.timeout) as conn:
                yield _PgTx(conn)
        except _pg_unavailable() as exc:
            raise _unavailable(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        try:
            with self.pool.connection(timeout=self.timeout) as conn, conn.transaction():
                yield _PgTx(conn)
        except _pg_unavailable() as exc:
            raise _unavailable(exc) from exc

    def ping(self) -> None:
        """Raise RegistryUnavailableError if the server cannot be reached, or takes no writes
        now (every write would be refused: /v1/health says so, not only the first write)."""
        with self.connection() as tx:
            read_only = tx.execute("SHOW transaction_read_only").fetchone()[0]
        if read_only == "on":
            raise RegistryUnavailableError(READ_ONLY_MESSAGE)

    def close(self) -> None:
        self.pool.close()

    def describe(self) -> str:
        return _redact(self.url)


def _check_idle_connection(conn: Any) -> None:
    """The pool's check on every checkout, without a round trip while the connection is sound.

    An idle connection has nothing to read: when the server goes away (restart, fail-over,
    ``pg_terminate_backend``) it sends its termination notice and closes the socket, which
    makes the socket readable. Only then is the connection asked with an empty query (psycopg's
    own check), which raises if it is dead, so the pool replaces it before it is used."""
    import psycopg_pool

    if conn.closed or conn.broken:
        raise _pg_unavailable()[0]("the connection is closed")
    try:
        readable = bool(select.select([conn.pgconn.socket], [], [], 0)[0])
    except (OSError, ValueError, *_pg_unavailable()):
        readable = True
    if readable:
        psycopg_pool.ConnectionPool.check_connection(conn)


def _redact(url: str) -> str:
    """The URL without its password (for logs and /v1/health)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def constraint_name(exc: BaseException) -> str:
    """The constraint or index that refused a row (PostgreSQL), or the SQLite message."""
    diag = getattr(exc, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    return name or str(exc)


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgresql://", "postgres://", "postgresql:///"))
