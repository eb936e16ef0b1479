"""The card registry: one row per card the service has issued (SQLite or PostgreSQL).

It enforces "one person, one card" twice: :meth:`Registry.ensure_can_issue` and
:meth:`Registry.record_issue` check it in code, and a partial UNIQUE index on the citizen number
``WHERE status = 'active'`` makes a second active card impossible even for a racing writer.
``last_sequence`` only ever grows, so a card read with a lower sequence is a rollback.
"""

from __future__ import annotations

import json
import logging
import re
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
from cardservice.store import db, migrations
from cardservice.store.base import Store
from cardservice.store.database import constraint_name

logger = logging.getLogger(__name__)

_SERIAL_RE = re.compile(r"^[0-9a-f]{16}$")

_V1_SQLITE = """
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

# v2: sites, and the reservation a write takes before its first card APDU. A card being issued
# is 'pending' until its write is confirmed; the one-card index covers pending cards too.
_CARDS_V2 = """
CREATE TABLE cards{suffix} (
    serial                  TEXT PRIMARY KEY,
    citizen_number          TEXT NOT NULL,
    status                  TEXT NOT NULL
                            CHECK (status IN ('pending', 'active', 'revoked', 'lost', 'replaced')),
    last_sequence           {int} NOT NULL CHECK (last_sequence >= 0),
    issuing_authority       TEXT NOT NULL,
    permit_type             TEXT NOT NULL,
    basis                   INTEGER,
    expires_on              {date} NOT NULL,
    sponsor_citizen_number  TEXT,
    revoked_reason          TEXT,
    created_at              {time} NOT NULL,
    updated_at              {time} NOT NULL,
    issued_site             TEXT,
    last_write_site         TEXT,
    pending_sequence        {int},
    pending_site            TEXT,
    pending_since           {time}
);
"""
_INDEXES_V2 = """
CREATE INDEX cards_by_citizen ON cards (citizen_number, created_at);
CREATE UNIQUE INDEX cards_one_active_per_citizen
    ON cards (citizen_number) WHERE status IN ('active', 'pending');
CREATE INDEX cards_reserved ON cards (pending_since) WHERE pending_since IS NOT NULL;
"""
_OLD_COLUMNS = (
    "serial, citizen_number, status, last_sequence, issuing_authority, permit_type, basis, "
    "expires_on, sponsor_citizen_number, revoked_reason, created_at, updated_at"
)
_V2_SQLITE = (
    _CARDS_V2.format(suffix="_v2", int="INTEGER", date="TEXT", time="TEXT")
    + f"INSERT INTO cards_v2 ({_OLD_COLUMNS}) SELECT {_OLD_COLUMNS} FROM cards;\n"
    + "DROP TABLE cards;\nALTER TABLE cards_v2 RENAME TO cards;\n" + _INDEXES_V2
)
_V1_POSTGRESQL = (_CARDS_V2.format(suffix="", int="BIGINT", date="DATE", time="TIMESTAMPTZ")
                  + _INDEXES_V2)

# v3: a card produced from an application is 'produced' (not active, not in the one-card
# index) until it is handed over; card_links records which card replaced which.
_ALL_V2 = (_OLD_COLUMNS + ", issued_site, last_write_site, pending_sequence, pending_site, "
           "pending_since")
_STATUSES_V3 = "('pending', 'active', 'produced', 'revoked', 'lost', 'replaced')"
_LINKS_V3 = """
CREATE TABLE card_links (
    old_serial  TEXT PRIMARY KEY,
    new_serial  TEXT NOT NULL UNIQUE,
    reason      TEXT NOT NULL,
    linked_at   {time} NOT NULL
);
"""
_V3_SQLITE = (
    _CARDS_V2.format(suffix="_v3", int="INTEGER", date="TEXT", time="TEXT").replace(
        "('pending', 'active', 'revoked', 'lost', 'replaced')", _STATUSES_V3)
    + f"INSERT INTO cards_v3 ({_ALL_V2}) SELECT {_ALL_V2} FROM cards;\n"
    + "DROP TABLE cards;\nALTER TABLE cards_v3 RENAME TO cards;\n" + _INDEXES_V2
    + _LINKS_V3.format(time="TEXT")
)
_V3_POSTGRESQL = (
    "ALTER TABLE cards DROP CONSTRAINT cards_status_check;\n"
    f"ALTER TABLE cards ADD CONSTRAINT cards_status_check CHECK (status IN {_STATUSES_V3});\n"
    + _LINKS_V3.format(time="TIMESTAMPTZ")
)

# v4: the identity each card was personalized with (a replacement is checked against it, also
# for a card issued directly, without an application)
_IDENTITIES_V4 = """
CREATE TABLE card_identities (
    serial       TEXT PRIMARY KEY,
    identity     TEXT NOT NULL,
    recorded_at  {time} NOT NULL
);
"""

COMPONENT = migrations.register(migrations.Component("registry", (
    migrations.Step(1, "cards, one active card per citizen", _V1_SQLITE, _V1_POSTGRESQL),
    migrations.Step(2, "sites and write reservations", _V2_SQLITE, ""),
    migrations.Step(3, "produced cards awaiting hand-over, replacement links", _V3_SQLITE,
                    _V3_POSTGRESQL),
    migrations.Step(4, "the identity of each card", _IDENTITIES_V4.format(time="TEXT"),
                    _IDENTITIES_V4.format(time="TIMESTAMPTZ")),
)))

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


class Registry(Store):
    """The card registry on a :class:`Database` (SQLite file or PostgreSQL); thread-safe."""

    COMPONENT = COMPONENT

    # --- queries -----------------------------------------------------------------------

    def get(self, serial: str) -> CardRow | None:
        key = normalize_serial(serial)
        with self._db.connection() as tx:
            row = tx.execute(f"SELECT {_COLUMNS} FROM cards WHERE serial = ?", (key,)).fetchone()
        return None if row is None else _row_to_card(row)

    def find_by_citizen(self, citizen_number: str) -> list[CardRow]:
        """All cards of a citizen, newest first."""
        with self._db.connection() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM cards WHERE citizen_number = ? "
                "ORDER BY created_at DESC, serial DESC",
                (citizen_number,),
            ).fetchall()
        return [_row_to_card(r) for r in rows]

    def active_card(self, citizen_number: str) -> CardRow | None:
        """The citizen's active card (a pending issue does not count as a card yet)."""
        with self._db.connection() as tx:
            row = _holding_row(tx, citizen_number)
        card = None if row is None else _row_to_card(row)
        return card if card is not None and card.status is CardStatus.ACTIVE else None

    def revoked_serials(self) -> list[str]:
        """The serials of every card that is not active (lost, replaced, withdrawn), sorted."""
        with self._db.connection() as tx:
            rows = tx.execute("SELECT serial FROM cards WHERE status NOT IN (?, ?) "
                              "ORDER BY serial", (CardStatus.ACTIVE.value,
                                                  CardStatus.PENDING.value)).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        with self._db.connection() as tx:
            return int(tx.execute("SELECT count(*) FROM cards").fetchone()[0])

    def all_rows(self) -> list[CardRow]:
        """Every row in serial order (import, export)."""
        with self._db.connection() as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM cards ORDER BY serial").fetchall()
        return [_row_to_card(r) for r in rows]

    def reservations(self, older_than: datetime | None = None) -> list[CardRow]:
        """Cards with a write reserved but not confirmed (oldest first); with ``older_than``,
        only reservations taken before that moment (expired ones)."""
        sql = f"SELECT {_COLUMNS} FROM cards WHERE pending_since IS NOT NULL"
        args: tuple = ()
        if older_than is not None:
            sql, args = sql + " AND pending_since < ?", (db.to_db_time(older_than),)
        with self._db.connection() as tx:
            rows = tx.execute(sql + " ORDER BY pending_since", args).fetchall()
        return [_row_to_card(r) for r in rows]

    def ensure_can_issue(self, citizen_number: str, serial: str) -> None:
        """Raise CitizenHasCardError if the citizen holds (or is being issued) a card other than
        ``serial``."""
        key = normalize_serial(serial)
        with self._db.connection() as tx:
            row = _holding_row(tx, citizen_number)
        if row is not None and row[0] != key:
            raise _has_card(row[0])

    # --- reservation and confirmation (the engine's write path) ------------------------

    def reserve(self, *, serial: str, citizen_number: str, sequence: int, terms: Terms,
                sponsor_citizen_number: str | None, now: datetime) -> CardRow:
        """Take the registry's side of a card write before the card is touched.

        A card the registry does not know yet (an issue, or a card issued at another SQLite
        site) gets a 'pending' row: one person, one card is decided here, so a loser of a race
        never writes its card (CitizenHasCardError). A known active card records the pending
        sequence and site. A revoked card -> CardRevokedError."""
        key, site = normalize_serial(serial), self.site_id
        _check_sequence(sequence)
        when = db.to_db_time(now)
        with self._db.transaction() as tx:
            current = _select(tx, key)
            if current is None:
                holder = _holding_row(tx, citizen_number)
                if holder is not None:
                    raise _has_card(holder[0])
                card = CardRow(key, citizen_number, CardStatus.PENDING, 0, terms.issuing_authority,
                               terms.permit_type, terms.basis, terms.expires_on,
                               sponsor_citizen_number, None, db.normalize_time(now),
                               db.normalize_time(now), site, None, sequence, site,
                               db.normalize_time(now))  # fmt: skip
                self._insert(tx, card)
                return card
            if current.revoked:
                raise CardRevokedError(f"card {key} is {current.status.value}", serial=key)
            tx.execute("UPDATE cards SET pending_sequence = ?, pending_site = ?, "
                       "pending_since = ? WHERE serial = ?", (sequence, site, when, key))
            return _select(tx, key)

    def confirm(self, *, serial: str, citizen_number: str, sequence: int, terms: Terms,
                sponsor_citizen_number: str | None, now: datetime) -> CardRow:
        """The card read back what was written: the row becomes (or stays) active with
        ``last_sequence = max(old, sequence)`` and this site as the last writer."""
        key, site = normalize_serial(serial), self.site_id
        _check_sequence(sequence)
        with self._db.transaction() as tx:
            current = _select(tx, key)
            if current is None:  # reservation lost (e.g. released): register it now
                holder = _holding_row(tx, citizen_number)
                if holder is not None:
                    raise _has_card(holder[0])
                self._insert(tx, CardRow(
                    key, citizen_number, CardStatus.ACTIVE, sequence, terms.issuing_authority,
                    terms.permit_type, terms.basis, terms.expires_on, sponsor_citizen_number,
                    None, db.normalize_time(now), db.normalize_time(now), site, site))
            elif current.revoked:
                raise CardRevokedError(f"card {key} is {current.status.value}", serial=key)
            else:
                tx.execute(
                    "UPDATE cards SET status = 'active', last_sequence = CASE WHEN "
                    "last_sequence > ? THEN last_sequence ELSE ? END, issuing_authority = ?, "
                    "permit_type = ?, basis = ?, expires_on = ?, updated_at = ?, "
                    "last_write_site = ?, pending_sequence = NULL, pending_site = NULL, "
                    "pending_since = NULL WHERE serial = ?",
                    (sequence, sequence, terms.issuing_authority, terms.permit_type, terms.basis,
                     db.to_db_date(terms.expires_on), db.to_db_time(now), site, key))  # fmt: skip
            updated = _select(tx, key)
        logger.info("confirmed write of card %s (sequence %d)", key, updated.last_sequence)
        return updated

    def release(self, serial: str, now: datetime) -> CardRow | None:
        """The write did not land: drop the reservation (a pending issue's row goes away)."""
        key = normalize_serial(serial)
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM cards WHERE serial = ? AND status = 'pending'", (key,))
            tx.execute("UPDATE cards SET pending_sequence = NULL, pending_site = NULL, "
                       "pending_since = NULL WHERE serial = ?", (key,))
            return _select(tx, key)

    # --- direct writes (technician tools, import, tests) -------------------------------

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
        status: CardStatus = CardStatus.ACTIVE,
    ) -> CardRow:
        """Register a newly personalized card as ACTIVE (or PRODUCED: from an application, to be
        activated at hand-over).

        A serial seen before (in any status) -> AlreadyPersonalizedError; a citizen with another
        active card -> CitizenHasCardError (a produced card leaves that to the application).
        """
        site = self.site_id
        card = CardRow(
            serial=normalize_serial(serial), citizen_number=citizen_number,
            status=status, last_sequence=_check_sequence(sequence),
            issuing_authority=issuing_authority, permit_type=permit_type, basis=basis,
            expires_on=expires_on, sponsor_citizen_number=sponsor_citizen_number,
            revoked_reason=None, created_at=db.normalize_time(now),
            updated_at=db.normalize_time(now), issued_site=site, last_write_site=site,
        )  # fmt: skip
        with self._db.transaction() as tx:
            if _select(tx, card.serial) is not None:
                raise AlreadyPersonalizedError(f"card {card.serial} is already registered")
            holder = _holding_row(tx, citizen_number)
            if holder is not None and status is CardStatus.ACTIVE:
                raise _has_card(holder[0])
            self._insert(tx, card)
        logger.info("registered card %s (%s, sequence %d)", card.serial, status.value,
                    card.last_sequence)
        return card

    def activate(self, serial: str, now: datetime, *, replaces: str | None = None,
                 replaced_reason: str = "replaced") -> CardRow:
        """Hand-over: a PRODUCED card becomes ACTIVE; the card it ``replaces`` (the same
        citizen's, active or lost) becomes ``replaced_reason`` (replaced | lost) and is linked to
        it, in one transaction. One person, one card holds (CitizenHasCardError otherwise)."""
        key, when = normalize_serial(serial), db.to_db_time(now)
        with self._db.transaction() as tx:
            card = _select(tx, key)
            if card is None or card.status is not CardStatus.PRODUCED:
                state = "not registered" if card is None else card.status.value
                raise CardRevokedError(f"card {key} is {state}, not produced", serial=key)
            if replaces is not None:
                self._retire(tx, normalize_serial(replaces), card, replaced_reason, when)
            holder = _holding_row(tx, card.citizen_number)
            if holder is not None:
                raise _has_card(holder[0])
            tx.execute("UPDATE cards SET status = 'active', updated_at = ?, last_write_site = ? "
                       "WHERE serial = ?", (when, self.site_id, key))
            return _select(tx, key)

    def _retire(self, tx, old_serial: str, new: CardRow, reason: str, when: str) -> None:
        old = _select(tx, old_serial)
        if old is None or old.citizen_number != new.citizen_number:
            raise NotFoundError(f"card {old_serial} is not this citizen's card", serial=old_serial)
        status = REVOKE_REASONS.get(reason)
        if status not in (CardStatus.REPLACED, CardStatus.LOST):
            raise ValidationError("reason", "must be replaced or lost", reason="choice")
        if old.status is CardStatus.ACTIVE:
            tx.execute("UPDATE cards SET status = ?, revoked_reason = ?, updated_at = ?, "
                       "last_write_site = ? WHERE serial = ?",
                       (status.value, reason, when, self.site_id, old_serial))
        elif old.status not in (CardStatus.LOST, CardStatus.REPLACED):
            raise CardRevokedError(f"card {old_serial} is {old.status.value}", serial=old_serial)
        tx.execute("INSERT INTO card_links (old_serial, new_serial, reason, linked_at) "
                   "VALUES (?, ?, ?, ?)", (old_serial, new.serial, reason, when))

    def replaced_by(self, serial: str) -> str | None:
        """The card that replaced ``serial`` (the registry's old -> new link), if any."""
        with self._db.connection() as tx:
            row = tx.execute("SELECT new_serial FROM card_links WHERE old_serial = ?",
                             (normalize_serial(serial),)).fetchone()
        return None if row is None else row[0]

    def record_identity(self, serial: str, identity: dict[str, str], now: datetime) -> None:
        """Keep the identity fields ``serial`` is personalized with (before its write: a write
        settled later still has it; a card issued again, after a failed write, replaces it)."""
        with self._db.transaction() as tx:
            tx.execute("INSERT INTO card_identities (serial, identity, recorded_at) "
                       "VALUES (?, ?, ?) ON CONFLICT (serial) DO UPDATE SET "
                       "identity = excluded.identity, recorded_at = excluded.recorded_at",
                       (normalize_serial(serial), json.dumps(identity, ensure_ascii=False,
                                                             sort_keys=True),
                        db.to_db_time(now)))

    def identity(self, serial: str) -> dict[str, str] | None:
        """The identity fields recorded for ``serial`` (None for a card issued before the
        registry kept them)."""
        with self._db.connection() as tx:
            row = tx.execute("SELECT identity FROM card_identities WHERE serial = ?",
                             (normalize_serial(serial),)).fetchone()
        return None if row is None else json.loads(row[0])

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
        with self._db.transaction() as tx:
            current = _select(tx, key)
            if current is None:
                raise NotFoundError(f"card {key} is not in the registry", serial=key)
            if current.status is not CardStatus.ACTIVE:
                raise CardRevokedError(f"card {key} is {current.status.value}", serial=key)
            tx.execute(
                "UPDATE cards SET last_sequence = CASE WHEN last_sequence > ? THEN last_sequence "
                "ELSE ? END, issuing_authority = ?, permit_type = ?, basis = ?, expires_on = ?, "
                "updated_at = ?, last_write_site = ? WHERE serial = ?",
                (sequence, sequence, issuing_authority, permit_type, basis,
                 db.to_db_date(expires_on), db.to_db_time(now), self.site_id, key),
            )  # fmt: skip
            updated = _select(tx, key)
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
        with self._db.transaction() as tx:
            current = _select(tx, key)
            if current is None:
                raise NotFoundError(f"card {key} is not in the registry", serial=key)
            if current.status is not CardStatus.ACTIVE:
                raise CardRevokedError(f"card {key} is already {current.status.value}", serial=key)
            tx.execute(
                "UPDATE cards SET status = ?, revoked_reason = ?, updated_at = ?, "
                "last_write_site = ? WHERE serial = ?",
                (status.value, reason, db.to_db_time(now), self.site_id, key),
            )
            updated = _select(tx, key)
        logger.info("card %s revoked (%s)", key, reason)
        return updated

    def import_rows(self, rows: Iterable[CardRow]) -> int:
        """Bulk-insert complete rows in one transaction (migration and benchmark fill)."""
        batch = [r.to_db() for r in rows]
        with self._db.transaction() as tx:
            try:
                tx.executemany(_INSERT, batch)
            except self._db.IntegrityError as exc:
                raise _integrity_error(exc) from exc
        return len(batch)

    def _insert(self, tx, card: CardRow) -> None:
        try:
            tx.execute(_INSERT, card.to_db())
        except self._db.IntegrityError as exc:
            raise _integrity_error(exc) from exc


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
