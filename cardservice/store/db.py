"""SQLite plumbing and the time/date conversions every store shares.

Every store opens its own connection here: WAL journal, ``synchronous=FULL`` (a commit is on
disk before it returns), foreign keys on, a busy timeout so a second process (the CLI next to
the daemon) waits for the write lock instead of failing. Connections run in autocommit mode;
writers open explicit ``BEGIN IMMEDIATE`` transactions with :func:`write_transaction`.

Timestamps are stored as UTC ISO-8601 text of fixed width, so text order is time order.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
_FILE_MODE = 0o600


def open_database(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) a database file with the service's pragmas.

    A new file is created with mode 0600 before SQLite opens it; SQLite gives its ``-wal`` and
    ``-shm`` files the same mode.
    """
    target = str(path)
    if target != MEMORY:
        _create_private(Path(target))
    conn = sqlite3.connect(
        target, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    logger.debug("opened %s (journal_mode=%s)", target, mode)
    return conn


def _create_private(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, _FILE_MODE)
    os.close(fd)


def apply_schema(conn: sqlite3.Connection, script: str, version: int) -> None:
    """Run an idempotent schema script once and record ``version`` in ``user_version``."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current == version:
        return
    if current > version:
        raise RuntimeError(f"database schema {current} is newer than this software ({version})")
    conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {int(version)}")


@contextmanager
def write_transaction(conn: sqlite3.Connection, lock: threading.Lock) -> Iterator[None]:
    """Hold ``lock`` and an IMMEDIATE transaction; commit on success, roll back on error."""
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def to_db_time(moment: datetime) -> str:
    """UTC ISO text with microseconds; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def normalize_time(moment: datetime) -> datetime:
    """The datetime as it reads back from the database (UTC-aware)."""
    return datetime.fromisoformat(to_db_time(moment))


def from_db_time(value: str | datetime) -> datetime:
    """A stored time: ISO text (SQLite) or a timestamptz (PostgreSQL), as UTC-aware datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value)


def from_db_time_or_none(value: str | datetime | None) -> datetime | None:
    return None if value is None else from_db_time(value)


def to_db_date(day: date) -> str:
    return day.isoformat()


def from_db_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
