"""Schema migrations: each component (registry, audit, tokens, idempotency, and any module's own
tables) declares an ordered list of :class:`Step`, one SQL script per backend, and registers it
with :func:`register`. A ``schema_version`` table in each database records the version of each
component in it (SQLite: one file per component; PostgreSQL: one database for all).

* ``cardservice db upgrade`` applies the missing steps, each in its own transaction.
* ``cardservice db status`` lists each component's version and the version this software needs.
* A store opening its database calls :func:`ensure`: an empty SQLite file is created at the
  newest version (the zero-configuration default); anything older than the code raises
  :class:`SchemaOutdatedError` with the command to run, and so does an empty PostgreSQL database
  (the sites' database role has no DDL rights; the county's owner role upgrades it).

SQLite files written before migrations existed carry their version in ``PRAGMA user_version``
(all were at 1); that is taken as the component's version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from cardservice.errors import SchemaOutdatedError
from cardservice.store.database import POSTGRESQL, SQLITE, Database

logger = logging.getLogger(__name__)

UPGRADE_HINT = "run `cardservice db upgrade`"

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    component   TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
)"""


@dataclass(frozen=True)
class Step:
    """One schema change. ``sqlite`` / ``postgresql``: the DDL script for that backend ("" when
    the step changes nothing there, e.g. a fix of an old SQLite layout)."""

    version: int
    description: str
    sqlite: str
    postgresql: str

    def script(self, backend: str) -> str:
        return self.sqlite if backend == SQLITE else self.postgresql


@dataclass(frozen=True)
class Component:
    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        versions = [s.version for s in self.steps]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"{self.name}: step versions must be 1..n in order, got {versions}")

    @property
    def latest(self) -> int:
        return len(self.steps)


COMPONENTS: dict[str, Component] = {}


def register(component: Component) -> Component:
    """Make a component known to ``cardservice db upgrade/status`` (call at import time)."""
    COMPONENTS[component.name] = component
    return component


@dataclass(frozen=True)
class Status:
    component: str
    current: int  # 0: not created yet
    latest: int

    @property
    def state(self) -> str:
        if self.current == self.latest:
            return "current"
        return "missing" if self.current == 0 else (
            "outdated" if self.current < self.latest else "newer than this software")


def current_version(db: Database, name: str) -> int:
    with db.connection() as tx:
        if db.backend == POSTGRESQL:
            exists = tx.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
        else:
            exists = tx.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'schema_version'").fetchone() is not None
        if exists:
            row = tx.execute("SELECT version FROM schema_version WHERE component = ?",
                             (name,)).fetchone()
            if row is not None:
                return int(row[0])
        if db.backend == SQLITE:  # a file from before migrations: PRAGMA user_version
            return int(tx.execute("PRAGMA user_version").fetchone()[0])
    return 0


def status(db: Database, component: Component) -> Status:
    return Status(component.name, current_version(db, component.name), component.latest)


def ensure(db: Database, component: Component) -> None:
    """Open-time check: create an empty SQLite database at the newest version; refuse an older
    (or newer) schema with a one-line error naming the command."""
    register(component)
    st = status(db, component)
    if st.current == st.latest:
        return
    if st.current == 0 and db.backend == SQLITE:
        upgrade(db, component)
        return
    if st.current > st.latest:
        raise SchemaOutdatedError(
            f"the {component.name} schema in {db.describe()} is version {st.current}, newer than "
            f"this software ({st.latest}); install the newer cardservice")
    have = "missing" if st.current == 0 else f"at version {st.current}"
    raise SchemaOutdatedError(
        f"the {component.name} schema in {db.describe()} is {have}, this software needs version "
        f"{st.latest}: {UPGRADE_HINT}")


def upgrade(db: Database, component: Component) -> list[int]:
    """Apply the missing steps in order, each in one transaction; returns the versions applied."""
    register(component)
    applied = []
    with db.transaction() as tx:
        if db.backend == POSTGRESQL:  # one upgrader at a time across the county
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('cardservice schema'))")
        tx.execute(_VERSION_TABLE)
    for step in component.steps:
        if step.version <= current_version(db, component.name):
            continue
        _apply(db, component.name, step)
        applied.append(step.version)
        logger.info("%s: schema version %d (%s)", component.name, step.version, step.description)
    return applied


def _apply(db: Database, name: str, step: Step) -> None:
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    record = ("INSERT INTO schema_version (component, version, updated_at) VALUES (?, ?, ?) "
              "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
              "updated_at = excluded.updated_at")
    script = step.script(db.backend)
    if db.backend == SQLITE:
        # executescript commits first and runs the script as is: BEGIN..COMMIT keep it atomic
        with db.connection() as conn:
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n;"
                                   f"INSERT INTO schema_version VALUES ('{name}', {step.version},"
                                   f" '{now}') ON CONFLICT (component) DO UPDATE SET "
                                   "version = excluded.version, updated_at = excluded.updated_at;"
                                   "\nCOMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return
    with db.transaction() as tx:
        if script.strip():
            tx.conn.execute(script)
        tx.execute(record, (name, step.version, now))
