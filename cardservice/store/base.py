"""Base of every store: a :class:`~cardservice.store.database.Database` plus its component's
migrations, checked when the store opens (see docs/storage.md)."""

from __future__ import annotations

import logging
from pathlib import Path

from cardservice.errors import RegistryUnavailableError
from cardservice.store import migrations
from cardservice.store.database import Database, SqliteDatabase

logger = logging.getLogger(__name__)


class Store:
    """Subclasses set ``COMPONENT`` (a :class:`migrations.Component`).

    ``Store(path)`` opens a SQLite file (or ``":memory:"``) of its own; ``Store(database)`` uses
    a shared database (PostgreSQL, or a SQLite file opened elsewhere)."""

    COMPONENT: migrations.Component

    def __init__(self, target: Path | str | Database) -> None:
        self._owned = not isinstance(target, Database)
        self._db: Database = SqliteDatabase(target) if self._owned else target
        try:
            migrations.ensure(self._db, self.COMPONENT)
        except RegistryUnavailableError as exc:  # offline at start: checked again by db status
            logger.warning("%s schema not checked: %s", self.COMPONENT.name, exc.message)

    @property
    def database(self) -> Database:
        return self._db

    @property
    def site_id(self) -> str:
        return self._db.site_id

    @property
    def _conn(self):
        """The raw SQLite connection (SQLite only; tests and PRAGMA checks)."""
        return self._db.raw  # type: ignore[attr-defined]

    def close(self) -> None:
        if self._owned:
            self._db.close()
