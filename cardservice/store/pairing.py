"""Pairing requests of client apps (SQLite or PostgreSQL, docs/storage.md): who asked, the code
the clerk compares, and where the request stands. Holds no token secret: the token is created
when the app collects it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from cardservice.store import db, migrations
from cardservice.store.base import Store

logger = logging.getLogger(__name__)

STATUSES = ("pending", "approved", "claimed", "denied", "expired")

_TABLE = """
CREATE TABLE pairing_requests (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL,
    app_name    TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'claimed', 'denied', 'expired')),
    role        TEXT,
    created_at  {time} NOT NULL,
    expires_at  {time} NOT NULL,
    decided_at  {time},
    decided_by  TEXT,
    token_id    TEXT
);
CREATE UNIQUE INDEX pairing_open_code ON pairing_requests (code)
    WHERE status IN ('pending', 'approved');
CREATE INDEX pairing_by_created ON pairing_requests (created_at);
"""
COMPONENT = migrations.register(migrations.Component("pairing", (
    migrations.Step(1, "pairing requests", _TABLE.format(time="TEXT"),
                    _TABLE.format(time="TIMESTAMPTZ")),
)))
_COLUMNS = ("id, code, app_name, status, role, created_at, expires_at, decided_at, decided_by, "
            "token_id")


@dataclass(frozen=True)
class PairingRequest:
    id: str
    code: str
    app_name: str
    status: str
    role: str | None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    token_id: str | None


def _row(row: tuple) -> PairingRequest:
    return PairingRequest(
        id=row[0], code=row[1], app_name=row[2], status=row[3], role=row[4],
        created_at=db.from_db_time(row[5]), expires_at=db.from_db_time(row[6]),
        decided_at=db.from_db_time_or_none(row[7]), decided_by=row[8], token_id=row[9],
    )


class PairingStore(Store):
    """Pairing requests on a :class:`Database`; thread-safe. ``IntegrityError`` of ``insert``
    means the code is taken by an open request."""

    COMPONENT = COMPONENT

    def insert(self, req: PairingRequest) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                f"INSERT INTO pairing_requests ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (req.id, req.code, req.app_name, req.status, req.role,
                 db.to_db_time(req.created_at), db.to_db_time(req.expires_at),
                 None, None, None))  # fmt: skip

    def get(self, request_id: str) -> PairingRequest | None:
        return self._one(f"SELECT {_COLUMNS} FROM pairing_requests WHERE id = ?", (request_id,))

    def open_by_code(self, code: str) -> PairingRequest | None:
        """The pending or approved (not yet collected) request with this code."""
        return self._one(f"SELECT {_COLUMNS} FROM pairing_requests WHERE code = ? "
                         "AND status IN ('pending', 'approved')", (code,))

    def with_status(self, *statuses: str) -> list[PairingRequest]:
        marks = ", ".join("?" for _ in statuses)
        with self._db.connection() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM pairing_requests WHERE status IN ({marks}) "
                "ORDER BY created_at, id", statuses).fetchall()
        return [_row(r) for r in rows]

    def created_since(self, moment: datetime) -> int:
        with self._db.connection() as tx:
            return tx.execute(
                "SELECT count(*) FROM pairing_requests WHERE created_at > ?",
                (db.to_db_time(moment),)).fetchone()[0]

    def transition(self, request_id: str, old: str, new: str, now: datetime, *,
                   role: str | None = None, by: str | None = None,
                   expires_at: datetime | None = None, token_id: str | None = None) -> bool:
        """Move the request from status ``old`` to ``new``; False if it was not in ``old``
        (another caller moved it first)."""
        sets = ["status = ?"]
        args: list[object] = [new]
        for column, value in (("role", role), ("decided_by", by), ("token_id", token_id)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if new in ("approved", "denied"):
            sets.append("decided_at = ?")
            args.append(db.to_db_time(now))
        if expires_at is not None:
            sets.append("expires_at = ?")
            args.append(db.to_db_time(expires_at))
        with self._db.transaction() as tx:
            cursor = tx.execute(
                f"UPDATE pairing_requests SET {', '.join(sets)} WHERE id = ? AND status = ?",
                (*args, request_id, old))
            return cursor.rowcount == 1

    def _one(self, sql: str, args: tuple) -> PairingRequest | None:
        with self._db.connection() as tx:
            row = tx.execute(sql, args).fetchone()
        return _row(row) if row else None
