"""The registry's row type, statuses and the small SQL helpers its parts share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from cardservice.errors import AlreadyPersonalizedError, CitizenHasCardError, ValidationError
from cardservice.store import db
from cardservice.store.database import constraint_name

_SERIAL_RE = re.compile(r"^[0-9a-f]{16}$")

_COLUMNS = (
    "serial, citizen_number, status, last_sequence, issuing_authority, permit_type, basis, "
    "expires_on, sponsor_citizen_number, revoked_reason, created_at, updated_at, "
    "issued_site, last_write_site, pending_sequence, pending_site, pending_since"
)
_INSERT = f"INSERT INTO cards ({_COLUMNS}) VALUES ({', '.join('?' * 17)})"


class CardStatus(str, Enum):
    PENDING = "pending"  # issue reserved, card write not confirmed yet
    ACTIVE = "active"
    PRODUCED = "produced"  # personalized from an application, not handed over yet
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
    issued_site: str | None = None
    last_write_site: str | None = None
    pending_sequence: int | None = None
    pending_site: str | None = None
    pending_since: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.status not in (CardStatus.ACTIVE, CardStatus.PENDING, CardStatus.PRODUCED)

    def to_db(self) -> tuple[object, ...]:
        return (
            self.serial, self.citizen_number, self.status.value, self.last_sequence,
            self.issuing_authority, self.permit_type, self.basis, db.to_db_date(self.expires_on),
            self.sponsor_citizen_number, self.revoked_reason,
            db.to_db_time(self.created_at), db.to_db_time(self.updated_at),
            self.issued_site, self.last_write_site, self.pending_sequence, self.pending_site,
            None if self.pending_since is None else db.to_db_time(self.pending_since),
        )  # fmt: skip


def _row_to_card(row: tuple) -> CardRow:
    return CardRow(
        serial=row[0], citizen_number=row[1], status=CardStatus(row[2]), last_sequence=row[3],
        issuing_authority=row[4], permit_type=row[5], basis=row[6],
        expires_on=db.from_db_date(row[7]), sponsor_citizen_number=row[8],
        revoked_reason=row[9], created_at=db.from_db_time(row[10]),
        updated_at=db.from_db_time(row[11]), issued_site=row[12], last_write_site=row[13],
        pending_sequence=row[14], pending_site=row[15],
        pending_since=db.from_db_time_or_none(row[16]),
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


@dataclass(frozen=True)
class Terms:
    """What a card write puts into the registry besides the sequence."""

    issuing_authority: str
    permit_type: str
    basis: int | None
    expires_on: date


# --- helpers (inside a connection or transaction) ------------------------------------------


def _select(tx, serial: str) -> CardRow | None:
    row = tx.execute(f"SELECT {_COLUMNS} FROM cards WHERE serial = ?", (serial,)).fetchone()
    return None if row is None else _row_to_card(row)


def _holding_row(tx, citizen_number: str) -> tuple | None:
    """The citizen's active or pending card (the one the unique index allows)."""
    return tx.execute(
        f"SELECT {_COLUMNS} FROM cards WHERE citizen_number = ? "
        "AND status IN ('active', 'pending')",
        (citizen_number,),
    ).fetchone()


def _has_card(serial: str) -> CitizenHasCardError:
    return CitizenHasCardError(
        f"citizen already holds active card {serial}; revoke it first", serial=serial)


def _integrity_error(exc: BaseException) -> Exception:
    text = constraint_name(exc)
    if "cards.citizen_number" in text or "cards_one_active_per_citizen" in text:
        return CitizenHasCardError("citizen already holds an active card; revoke it first")
    if "cards.serial" in text or "cards_pkey" in text:
        return AlreadyPersonalizedError("card is already registered")
    return ValidationError("card", f"rejected by the registry: {text}", reason="constraint")

