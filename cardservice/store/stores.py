"""Opening the stores: which backend, which site, which database each component lives in.

``CARDSERVICE_DATABASE_URL`` unset: SQLite, one file per component in the data directory
(``registry.db``, ``audit.db``, ``tokens.db``, ``idempotency.db``, ``<component>.db``), as
before. Set to ``postgresql://...``: every component in that database, through one pool, and
``CARDSERVICE_SITE_ID`` (required then) names this acceptance point or the county centre.

A module with tables of its own registers a :class:`~cardservice.store.migrations.Component`
at import time and adds its module path to :data:`COMPONENT_MODULES` (docs/storage.md).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import threading
from datetime import timedelta
from pathlib import Path

from cardservice.errors import ValidationError
from cardservice.store import migrations
from cardservice.store.database import (
    Database,
    PostgresDatabase,
    SqliteDatabase,
    is_postgres_url,
)

logger = logging.getLogger(__name__)

URL_ENV = "CARDSERVICE_DATABASE_URL"
SITE_ENV = "CARDSERVICE_SITE_ID"
DEFAULT_SITE = "local"
_SITE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

#: modules that register a migration component (imported by ``db upgrade`` / ``db status``)
COMPONENT_MODULES = [
    "cardservice.store.registry",
    "cardservice.store.audit_schema",
    "cardservice.store.tokens",
    "cardservice.store.idempotency",
    "cardservice.store.pairing",
    "cardservice.store.users",
    "cardservice.store.applications",
]


def check_site_id(site_id: str) -> str:
    if not isinstance(site_id, str) or not _SITE_RE.match(site_id):
        raise ValidationError(SITE_ENV, "must be 1-63 characters a-z 0-9 . _ - (starting with "
                              "a letter or digit)", reason="format")
    return site_id


def load_components() -> dict[str, migrations.Component]:
    for module in COMPONENT_MODULES:
        importlib.import_module(module)
    return dict(migrations.COMPONENTS)


class Stores:
    """The databases of one data directory or one county database; opened lazily, shared."""

    def __init__(self, home: Path, *, database_url: str | None = None,
                 site_id: str | None = None) -> None:
        self.home = Path(home)
        self.database_url = database_url or None
        if self.database_url and not is_postgres_url(self.database_url):
            raise ValidationError(URL_ENV, "must be a postgresql:// URL (unset: SQLite in the "
                                  "data directory)", reason="format")
        if self.database_url and not site_id:
            raise ValidationError(SITE_ENV, "is required with a PostgreSQL database",
                                  reason="empty")
        self.site_id = check_site_id(site_id or DEFAULT_SITE)
        self._lock = threading.Lock()
        self._databases: dict[str, Database] = {}

    @classmethod
    def from_env(cls, home: Path) -> Stores:
        return cls(home, database_url=os.environ.get(URL_ENV) or None,
                   site_id=os.environ.get(SITE_ENV) or None)

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def database(self, component: str) -> Database:
        """The database holding ``component`` (PostgreSQL: the one shared pool)."""
        key = "*" if self.database_url else component
        with self._lock:
            if key not in self._databases:
                self._databases[key] = self._open(component)
            return self._databases[key]

    def _open(self, component: str) -> Database:
        if self.database_url:
            return PostgresDatabase(self.database_url, site_id=self.site_id)
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return SqliteDatabase(self.home / f"{component}.db", site_id=self.site_id)

    # --- the service's stores --------------------------------------------------------------

    def registry(self):
        from cardservice.store.registry import Registry

        return Registry(self.database("registry"))

    def audit(self):
        if self.database_url:
            from cardservice.store.audit_pg import PgAuditLog

            return PgAuditLog(self.database("audit"))
        from cardservice.store.audit import AuditLog

        return AuditLog(self.database("audit"))

    def tokens(self):
        from cardservice.store.tokens import TokenStore

        return TokenStore(self.database("tokens"))

    def users(self):
        from cardservice.store.users import UserStore

        return UserStore(self.database("users"))

    def idempotency(self, ttl: timedelta = timedelta(hours=24)):
        from cardservice.store.idempotency import IdempotencyStore

        return IdempotencyStore(self.database("idempotency"), ttl=ttl)

    # --- migrations --------------------------------------------------------------------

    def status(self) -> list[migrations.Status]:
        return [migrations.status(self.database(name), comp)
                for name, comp in sorted(load_components().items())]

    def upgrade(self) -> dict[str, list[int]]:
        return {name: migrations.upgrade(self.database(name), comp)
                for name, comp in sorted(load_components().items())}

    def check_current(self) -> None:
        """Raise SchemaOutdatedError (naming `cardservice db upgrade`) unless every component
        is at the version of this software. An empty SQLite data directory counts as current:
        its files are created at the newest version when first opened."""
        for name, comp in sorted(load_components().items()):
            migrations.ensure(self.database(name), comp)

    def describe(self) -> str:
        if self.database_url:
            return self.database("registry").describe()
        return f"sqlite:{self.home}"

    def close(self) -> None:
        with self._lock:
            for database in self._databases.values():
                database.close()
            self._databases.clear()
