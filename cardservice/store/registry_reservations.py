"""The registry's side of a card write: reserve before the first card APDU, confirm after the
read-back, release when the write did not land or its reservation expired.

Each step is one statement where it can be (autocommit: no BEGIN/COMMIT round trips), and falls
back to a transaction only for the rare cases that need to look first (a revoked card, a
reservation lost in between). One person, one card is decided by the partial unique index on
the citizen number (active and pending cards), so a racing writer is refused by the database.
"""

from __future__ import annotations

import logging
from datetime import datetime

from cardservice.errors import CardRevokedError, NotHandedOverError
from cardservice.store import db
from cardservice.store.database import Database
from cardservice.store.registry_rows import (
    _COLUMNS,
    _INSERT,
    CardRow,
    CardStatus,
    Terms,
    _check_sequence,
    _has_card,
    _holding_row,
    _integrity_error,
    _row_to_card,
    _select,
    normalize_serial,
)

logger = logging.getLogger(__name__)

#: statuses a write may reserve and confirm: not a produced card (production registers it
#: itself, without a reservation, and only the hand-over makes it active), nor a revoked one
_WRITABLE = "('pending', 'active')"
_RESERVE_KNOWN = (f"UPDATE cards SET pending_sequence = ?, pending_site = ?, pending_since = ? "
                  f"WHERE serial = ? AND status IN {_WRITABLE} RETURNING {_COLUMNS}")
_RESERVE_NEW = f"{_INSERT} ON CONFLICT (serial) DO NOTHING RETURNING {_COLUMNS}"
_CONFIRM = (
    "UPDATE cards SET status = 'active', last_sequence = CASE WHEN last_sequence > ? THEN "
    "last_sequence ELSE ? END, issuing_authority = ?, permit_type = ?, basis = ?, "
    "expires_on = ?, updated_at = ?, last_write_site = ?, pending_sequence = NULL, "
    f"pending_site = NULL, pending_since = NULL WHERE serial = ? AND status IN {_WRITABLE} "
    f"RETURNING {_COLUMNS}")


class Reservations:
    """Mixed into :class:`cardservice.store.registry.Registry` (needs ``_db`` and ``site_id``)."""

    _db: Database
    site_id: str

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

    def reserve(self, *, serial: str, citizen_number: str, sequence: int, terms: Terms,
                sponsor_citizen_number: str | None, now: datetime) -> CardRow:
        """Take the registry's side of a card write before the card is touched.

        A card the registry does not know yet (an issue, or a card issued at another SQLite
        site) gets a 'pending' row: one person, one card is decided here, so a loser of a race
        never writes its card (CitizenHasCardError). A known active card records the pending
        sequence and site. A revoked card -> CardRevokedError; a produced card not handed
        over yet -> ApplicationStateError."""
        key, site = normalize_serial(serial), self.site_id
        _check_sequence(sequence)
        when = db.normalize_time(now)
        with self._db.connection() as tx:
            rows = tx.execute(_RESERVE_KNOWN, (sequence, site, db.to_db_time(when), key)
                              ).fetchall()
            if rows:
                return _row_to_card(rows[0])
            card = CardRow(key, citizen_number, CardStatus.PENDING, 0, terms.issuing_authority,
                           terms.permit_type, terms.basis, terms.expires_on,
                           sponsor_citizen_number, None, when, when, site, None, sequence, site,
                           when)  # fmt: skip
            try:
                rows = tx.execute(_RESERVE_NEW, card.to_db()).fetchall()
            except self._db.IntegrityError as exc:
                holder = _holding_row(tx, citizen_number)
                raise (_has_card(holder[0]) if holder else _integrity_error(exc)) from exc
            if rows:
                return _row_to_card(rows[0])
            current = _select(tx, key)  # known, not writable (or gone again: try once more)
        if current is not None and (current.revoked or current.status is CardStatus.PRODUCED):
            raise _not_writable(current)
        return self.reserve(serial=serial, citizen_number=citizen_number, sequence=sequence,
                            terms=terms, sponsor_citizen_number=sponsor_citizen_number, now=now)

    def confirm(self, *, serial: str, citizen_number: str, sequence: int, terms: Terms,
                sponsor_citizen_number: str | None, now: datetime) -> CardRow:
        """The card read back what was written: the row becomes (or stays) active with
        ``last_sequence = max(old, sequence)`` and this site as the last writer."""
        key, site = normalize_serial(serial), self.site_id
        _check_sequence(sequence)
        with self._db.connection() as tx:
            rows = tx.execute(_CONFIRM, (
                sequence, sequence, terms.issuing_authority, terms.permit_type, terms.basis,
                db.to_db_date(terms.expires_on), db.to_db_time(now), site, key)).fetchall()
        if rows:
            updated = _row_to_card(rows[0])
        else:
            updated = self._confirm_unreserved(key, citizen_number, sequence, terms,
                                               sponsor_citizen_number, now)
        logger.info("confirmed write of card %s (sequence %d)", key, updated.last_sequence)
        return updated

    def _confirm_unreserved(self, key: str, citizen_number: str, sequence: int, terms: Terms,
                            sponsor_citizen_number: str | None, now: datetime) -> CardRow:
        """The row is gone (its reservation was released) or the card is no longer writable."""
        site = self.site_id
        with self._db.transaction() as tx:
            current = _select(tx, key)
            if current is not None:
                raise _not_writable(current)
            holder = _holding_row(tx, citizen_number)
            if holder is not None:
                raise _has_card(holder[0])
            card = CardRow(key, citizen_number, CardStatus.ACTIVE, sequence,
                           terms.issuing_authority, terms.permit_type, terms.basis,
                           terms.expires_on, sponsor_citizen_number, None,
                           db.normalize_time(now), db.normalize_time(now), site, site)
            try:
                tx.execute(_INSERT, card.to_db())
            except self._db.IntegrityError as exc:
                raise _integrity_error(exc) from exc
            return card

    def release(self, serial: str, now: datetime) -> CardRow | None:
        """The write did not land: drop the reservation (a pending issue's row goes away)."""
        key = normalize_serial(serial)
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM cards WHERE serial = ? AND status = 'pending'", (key,))
            tx.execute("UPDATE cards SET pending_sequence = NULL, pending_site = NULL, "
                       "pending_since = NULL WHERE serial = ?", (key,))
            return _select(tx, key)

    def release_expired(self, older_than: datetime, *, serial: str | None = None,
                        citizen_number: str | None = None) -> list[CardRow]:
        """Drop every reservation taken before ``older_than`` (with ``serial`` and/or
        ``citizen_number``: only those of that card or citizen). Returns the rows as they were
        before (the caller audits each release); a reservation confirmed or renewed meanwhile
        is left alone."""
        where, args = ["pending_since IS NOT NULL", "pending_since < ?"], [
            db.to_db_time(older_than)]
        which = [(c, v) for c, v in (("serial = ?", serial and normalize_serial(serial)),
                                     ("citizen_number = ?", citizen_number)) if v is not None]
        if which:
            where.append("(" + " OR ".join(c for c, _ in which) + ")")
            args += [v for _, v in which]
        sql = f"SELECT {_COLUMNS} FROM cards WHERE {' AND '.join(where)} ORDER BY pending_since"
        with self._db.connection() as tx:  # the usual case: nothing expired, one round trip
            expired = [_row_to_card(r) for r in tx.execute(sql, tuple(args)).fetchall()]
        released = []
        for row in expired:
            with self._db.transaction() as tx:
                since = db.to_db_time(row.pending_since)
                cur = tx.execute("DELETE FROM cards WHERE serial = ? AND status = 'pending' AND "
                                 "pending_since = ?", (row.serial, since))
                if cur.rowcount != 1:
                    cur = tx.execute("UPDATE cards SET pending_sequence = NULL, pending_site = "
                                     "NULL, pending_since = NULL WHERE serial = ? AND "
                                     "pending_since = ?", (row.serial, since))
                if cur.rowcount == 1:
                    released.append(row)
        for row in released:
            logger.info("released the expired reservation of card %s (reserved by %s at %s)",
                        row.serial, row.pending_site, row.pending_since)
        return released


def _not_writable(row: CardRow) -> Exception:
    """Why a write may not reserve or confirm ``row``: produced and not handed over yet
    (APPLICATION_STATE), or out of service (CARD_REVOKED)."""
    if row.status is CardStatus.PRODUCED:
        return NotHandedOverError(
            f"card {row.serial} was produced for an application and is not handed over yet; "
            "hand it over first", serial=row.serial)
    return CardRevokedError(f"card {row.serial} is {row.status.value}", serial=row.serial)
