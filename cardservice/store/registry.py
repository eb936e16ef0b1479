"""The card registry: one row per card the service has issued (SQLite).

It enforces "one person, one card" twice: :meth:`Registry.ensure_can_issue` and
:meth:`Registry.record_issue` check it in code, and a partial UNIQUE index on the citizen number
``WHERE status = 'active'`` makes a second active card impossible even for a racing writer.
``last_sequence`` only ever grows, so a card read with a lower sequence is a rollback.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from cardservice.errors import (
    AlreadyPersonalizedError,
    CardRevokedError,
    CitizenHasCardError,
    NotFoundError,
    ValidationError,
)
from cardservice.store import db

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SERIAL_RE = re.compile(r"^[0-9a-f]{16}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    serial                  TEXT PRIMARY KEY,
    citizen_number          TEXT NOT NULL,
    status                  TEXT NOT NULL
                            CHECK (status IN ('active', 'revoked', 'lost', 'replaced')),
    last_sequence           INTEGER NOT NULL CHECK (last_sequence >= 0),
    issuing_authority       TEXT NOT NULL,
    permit_type             TEXT NOT NULL,
    basis                   INTEGER,
    expires_on              TEXT NOT NULL,
    sponsor_citizen_number  TEXT,
    revoked_reason          TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_by_citizen ON cards (citizen_number, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS cards_one_active_per_citizen
    ON cards (citizen_number) WHERE status = 'active';
"""

_COLUMNS = (
    "serial, citizen_number, status, last_sequence, issuing_authority, permit_type, basis, "
    "expires_on, sponsor_citizen_number, revoked_reason, created_at, updated_at"
)
_INSERT = f"INSERT INTO cards ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class CardStatus(str, Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    LOST = "lost"
    REPLACED = "replaced"


REVOKE_REASONS: dict[str, CardStatus] = {
    "lost": CardStatus.LOST,
    "replaced": CardStatus.REPLACED,
    "withdrawn": CardStatus.REVOKED,
}


@dataclass(frozen=True)
class CardRow:
    serial: str
    citizen_number: str
    status: CardStatus
    last_sequence: int
    issuing_authority: str
    permit_type: str
    basis: int | None
    expires_on: date
    sponsor_citizen_number: str | None
    revoked_reason: str | None
    created_at: datetime
    updated_at: datetime

    def to_db(self) -> tuple[object, ...]:
        return (
            self.serial, self.citizen_number, self.status.value, self.last_sequence,
            self.issuing_authority, self.permit_type, self.basis, db.to_db_date(self.expires_on),
            self.sponsor_citizen_number, self.revoked_reason,
            db.to_db_time(self.created_at), db.to_db_time(self.updated_at),
        )  # fmt: skip


def _row_to_card(row: tuple) -> CardRow:
    return CardRow(
        serial=row[0], citizen_number=row[1], status=CardStatus(row[2]), last_sequence=row[3],
        issuing_authority=row[4], permit_type=row[5], basis=row[6],
        expires_on=db.from_db_date(row[7]), sponsor_citizen_number=row[8],
        revoked_reason=row[9], created_at=db.from_db_time(row[10]),
        updated_at=db.from_db_time(row[11]),
    )  # fmt: skip


def normalize_serial(serial: str) -> str:
    """Lower-case a card serial and check it is 16 hex digits (ValidationError otherwise)."""
    text = serial.strip().lower() if isinstance(serial, str) else ""
    if not _SERIAL_RE.match(text):
        raise ValidationError("serial", "must be 16 hexadecimal digits", reason="format")
    return text


def _check_sequence(sequence: int) -> int:
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise ValidationError("sequence", "must be a non-negative integer", reason="range")
    return sequence


class Registry(db.Store):
    """The card registry in one SQLite file (or ``":memory:"``); safe to share between threads."""

    SCHEMA = _SCHEMA
    SCHEMA_VERSION = SCHEMA_VERSION

    # --- queries -----------------------------------------------------------------------

    def get(self, serial: str) -> CardRow | None:
        key = normalize_serial(serial)
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM cards WHERE serial = ?", (key,)
            ).fetchone()
        return None if row is None else _row_to_card(row)

    def find_by_citizen(self, citizen_number: str) -> list[CardRow]:
        """All cards of a citizen, newest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM cards WHERE citizen_number = ? "
                "ORDER BY created_at DESC, rowid DESC",
                (citizen_number,),
            ).fetchall()
        return [_row_to_card(r) for r in rows]

    def active_card(self, citizen_number: str) -> CardRow | None:
        with self._lock:
            row = self._active_row(citizen_number)
        return None if row is None else _row_to_card(row)

    def revoked_serials(self) -> list[str]:
        """The serials of every card that is not active (lost, replaced, withdrawn), sorted."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT serial FROM cards WHERE status != ? ORDER BY serial",
                (CardStatus.ACTIVE.value,)).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM cards").fetchone()[0])

    def ensure_can_issue(self, citizen_number: str, serial: str) -> None:
        """Raise CitizenHasCardError if the citizen holds an ACTIVE card other than ``serial``."""
        key = normalize_serial(serial)
        active = self.active_card(citizen_number)
        if active is not None and active.serial != key:
            raise CitizenHasCardError(
                f"citizen already holds active card {active.serial}; revoke it first",
                serial=active.serial,
            )

    # --- writes ------------------------------------------------------------------------

    def record_issue(
        self,
        *,
        serial: str,
        citizen_number: str,
        sequence: int,
        issuing_authority: str,
        permit_type: str,
        basis: int | None,
        expires_on: date,
        sponsor_citizen_number: str | None,
        now: datetime,
    ) -> CardRow:
        """Register a newly personalized card as ACTIVE.

        A serial seen before (in any status) -> AlreadyPersonalizedError; a citizen with another
        active card -> CitizenHasCardError.
        """
        card = CardRow(
            serial=normalize_serial(serial), citizen_number=citizen_number,
            status=CardStatus.ACTIVE, last_sequence=_check_sequence(sequence),
            issuing_authority=issuing_authority, permit_type=permit_type, basis=basis,
            expires_on=expires_on, sponsor_citizen_number=sponsor_citizen_number,
            revoked_reason=None, created_at=db.normalize_time(now),
            updated_at=db.normalize_time(now),
        )  # fmt: skip
        with db.write_transaction(self._conn, self._lock):
            if self._conn.execute(
                "SELECT 1 FROM cards WHERE serial = ?", (card.serial,)
            ).fetchone():
                raise AlreadyPersonalizedError(f"card {card.serial} is already registered")
            active = self._active_row(citizen_number)
            if active is not None:
                raise CitizenHasCardError(
                    f"citizen already holds active card {active[0]}; revoke it first",
                    serial=active[0],
                )
            self._insert(card)
        logger.info("registered card %s (sequence %d)", card.serial, card.last_sequence)
        return card

    def record_write(
        self,
        *,
        serial: str,
        sequence: int,
        issuing_authority: str,
        permit_type: str,
        basis: int | None,
        expires_on: date,
        now: datetime,
    ) -> CardRow:
        """Record a re-sign or renewal; ``last_sequence`` becomes max(old, sequence)."""
        key = normalize_serial(serial)
        _check_sequence(sequence)
        with db.write_transaction(self._conn, self._lock):
            current = self._require(key)
            if current.status is not CardStatus.ACTIVE:
                raise CardRevokedError(f"card {key} is {current.status.value}", serial=key)
            self._conn.execute(
                "UPDATE cards SET last_sequence = max(last_sequence, ?), issuing_authority = ?, "
                "permit_type = ?, basis = ?, expires_on = ?, updated_at = ? WHERE serial = ?",
                (sequence, issuing_authority, permit_type, basis, db.to_db_date(expires_on),
                 db.to_db_time(now), key),
            )  # fmt: skip
            updated = self._require(key)
        logger.info("recorded write of card %s (sequence %d)", key, updated.last_sequence)
        return updated

    def revoke(self, serial: str, reason: str, now: datetime) -> CardRow:
        """Take a card out of service: reason lost | replaced | withdrawn.

        Unknown serial -> NotFoundError; a card that is no longer active -> CardRevokedError.
        """
        key = normalize_serial(serial)
        status = REVOKE_REASONS.get(reason)
        if status is None:
            raise ValidationError(
                "reason", f"must be one of {', '.join(REVOKE_REASONS)}", reason="choice"
            )
        with db.write_transaction(self._conn, self._lock):
            current = self._require(key)
            if current.status is not CardStatus.ACTIVE:
                raise CardRevokedError(f"card {key} is already {current.status.value}", serial=key)
            self._conn.execute(
                "UPDATE cards SET status = ?, revoked_reason = ?, updated_at = ? WHERE serial = ?",
                (status.value, reason, db.to_db_time(now), key),
            )
            updated = self._require(key)
        logger.info("card %s revoked (%s)", key, reason)
        return updated

    def import_rows(self, rows: Iterable[CardRow]) -> int:
        """Bulk-insert complete rows in one transaction (migration and benchmark fill)."""
        with db.write_transaction(self._conn, self._lock):
            before = self._conn.total_changes
            try:
                self._conn.executemany(_INSERT, (r.to_db() for r in rows))
            except sqlite3.IntegrityError as exc:
                raise _integrity_error(exc) from exc
            return self._conn.total_changes - before

    # --- helpers (call with the lock held) ---------------------------------------------

    def _active_row(self, citizen_number: str) -> tuple | None:
        return self._conn.execute(
            f"SELECT {_COLUMNS} FROM cards WHERE citizen_number = ? AND status = 'active'",
            (citizen_number,),
        ).fetchone()

    def _require(self, serial: str) -> CardRow:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM cards WHERE serial = ?", (serial,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"card {serial} is not in the registry", serial=serial)
        return _row_to_card(row)

    def _insert(self, card: CardRow) -> None:
        try:
            self._conn.execute(_INSERT, card.to_db())
        except sqlite3.IntegrityError as exc:
            raise _integrity_error(exc) from exc


def _integrity_error(exc: sqlite3.IntegrityError) -> Exception:
    text = str(exc)
    if "cards.citizen_number" in text:
        return CitizenHasCardError("citizen already holds an active card; revoke it first")
    if "cards.serial" in text:
        return AlreadyPersonalizedError("card is already registered")
    return ValidationError("card", f"rejected by the registry: {text}", reason="constraint")
