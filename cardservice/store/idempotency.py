"""``Idempotency-Key`` for write requests: the first successful response is stored (SQLite in the
data directory, or PostgreSQL) under (client, route, key) with a hash of the request body. The same key with
the same body returns the stored response and writes nothing; the same key with another body is
refused with IDEMPOTENCY_KEY_REUSED. Failed requests are not stored (nothing was written, so a
retry may run again). Entries expire after a retention period.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cardservice.errors import CardServiceError, ValidationError
from cardservice.store import migrations
from cardservice.store.base import Store
from cardservice.store.database import Database
from cardservice.store.db import to_db_time

logger = logging.getLogger(__name__)

MAX_KEY_LEN = 200

_TABLE = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at {time} NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
"""
COMPONENT = migrations.register(migrations.Component("idempotency", (
    migrations.Step(1, "stored responses of write requests", _TABLE.format(time="TEXT"),
                    _TABLE.format(time="TIMESTAMPTZ")),
)))


class IdempotencyKeyReusedError(CardServiceError):
    """This Idempotency-Key was already used with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LEN or not key.isascii() or not key.isprintable():
        raise ValidationError("Idempotency-Key", f"must be 1-{MAX_KEY_LEN} printable ASCII "
                              "characters", "bad_format")
    return key


class IdempotencyStore(Store):
    """Stored responses on a :class:`Database` (SQLite file or PostgreSQL); thread-safe."""

    COMPONENT = COMPONENT

    def __init__(self, target: Path | str | Database, *,
                 ttl: timedelta = timedelta(hours=24)) -> None:
        super().__init__(target)
        self.ttl = ttl

    def lookup(self, scope: str, key: str, digest: str) -> StoredResponse | None:
        """The stored response for this key, None if unused; raises if the body differs."""
        with self._db.connection() as tx:
            row = tx.execute(
                "SELECT body_sha256, status, response FROM idempotency WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
        if row is None:
            return None
        if row[0] != digest:
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {key!r} was used for a different request body"
            )
        return StoredResponse(row[1], json.loads(row[2]))

    def store(self, scope: str, key: str, digest: str, response: StoredResponse,
              now: datetime) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (scope, key, digest, response.status,
                 json.dumps(response.body, ensure_ascii=False), to_db_time(now)),
            )

    def prune(self, now: datetime) -> int:
        with self._db.transaction() as tx:
            cur = tx.execute("DELETE FROM idempotency WHERE created_at < ?",
                                     (to_db_time(now - self.ttl),))
        return cur.rowcount

