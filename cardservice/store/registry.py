"""The card registry: one row per card the service has issued (SQLite or PostgreSQL).

It enforces "one person, one card" twice: :meth:`Registry.ensure_can_issue` and
:meth:`Registry.record_issue` check it in code, and a partial UNIQUE index on the citizen number
``WHERE status IN ('active', 'pending')`` makes a second active card impossible even for a
racing writer. ``last_sequence`` only ever grows, so a card read with a lower sequence is a
rollback.

The registry is split by concern: the schema and its migrations (``registry_schema``), the row
type and shared SQL helpers (``registry_rows``), the write path's reservations
(``registry_reservations``); this module holds the look-ups and the direct status changes, and
re-exports the names the rest of the code imports from here.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from cardservice.errors import (
    AlreadyPersonalizedError,
    CardRevokedError,
    NotFoundError,
    ValidationError,
)
from cardservice.pki.issued import IssuedCards
from cardservice.store import db
from cardservice.store.base import Store
from cardservice.store.database import POSTGRESQL
from cardservice.store.registry_reservations import Reservations
from cardservice.store.registry_rows import (
    _COLUMNS,
    _INSERT,
    REVOKE_REASONS,
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
from cardservice.store.registry_schema import COMPONENT

__all__ = [
    "COMPONENT",
    "REVOKE_REASONS",
    "_INSERT",
    "CardRow",
    "CardStatus",
    "Registry",
    "Terms",
    "_holding_row",
    "_select",
    "normalize_serial",
]

logger = logging.getLogger(__name__)

#: rows whose converted CardRow is kept (a card read again with its row unchanged)
ROW_CACHE = 1024
#: rows a page when every card is listed (the trust bundle's issued cards)
_PAGE = 50_000


@functools.lru_cache(maxsize=ROW_CACHE)
def _card_of_row(row: tuple) -> CardRow:
    """:func:`_row_to_card`, kept per exact row value: a CardRow is immutable and a pure
    function of the row, so an unchanged row gives the same value."""
    return _row_to_card(row)


def _get_card(tx, key: str) -> CardRow | None:
    row = tx.execute(f"SELECT {_COLUMNS} FROM cards WHERE serial = ?", (key,)).fetchone()
    return None if row is None else _card_of_row(tuple(row))


class Registry(Reservations, Store):
    """The card registry on a :class:`Database` (SQLite file or PostgreSQL); thread-safe.
    Reservations (reserve, confirm, release, expiry): :class:`Reservations`."""

    COMPONENT = COMPONENT

    @property
    def authoritative(self) -> bool:
        """Whether this is the county's registry (PostgreSQL, every site's cards), which holds
        every card issued in the county; a site's own SQLite registry does not know the cards
        other sites issued."""
        return self._db.backend == POSTGRESQL

    # --- queries -----------------------------------------------------------------------

    def get(self, serial: str) -> CardRow | None:
        """The card's row as the database holds it now: a revocation or a write by another
        process shows at once. SQLite reuses the row while nothing was written to the file
        (:meth:`Database.cached`); PostgreSQL asks on every call. The conversion of an
        unchanged row is reused."""
        key = normalize_serial(serial)
        return self._db.cached(("cards", key), lambda tx: _get_card(tx, key))

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
        """The serials of every card taken out of service (lost, replaced, withdrawn), sorted.
        Not a produced card: handed over after the county's bundle is built, it must not read
        revoked at a verify-only site until the next bundle."""
        with self._db.connection() as tx:
            rows = tx.execute("SELECT serial FROM cards WHERE status NOT IN (?, ?, ?) "
                              "ORDER BY serial", (CardStatus.ACTIVE.value,
                                                  CardStatus.PENDING.value,
                                                  CardStatus.PRODUCED.value)).fetchall()
        return [r[0] for r in rows]

    def ensure_writable(self) -> None:
        """RegistryUnavailableError when the database cannot be reached or takes no writes now
        (a PostgreSQL standby, or a primary fenced read-only in a failover)."""
        self._db.ping()

    def issued_list(self, also: Iterable[tuple[str, str]] = ()) -> IssuedCards | None:
        """Every card this registry holds, whatever its status, and the ``(serial, citizen
        number)`` pairs of ``also`` (the open write intents: a card written whose row is not
        made yet), for the county's trust bundle; None when this is a site's own registry
        (SQLite), which does not hold the cards other sites issued. Read a page at a time."""
        if not self.authoritative:
            return None
        return IssuedCards.of(itertools.chain(self._every_card(), also))

    def _every_card(self) -> Iterator[tuple[str, str]]:
        after = ""
        while True:
            with self._db.connection() as tx:
                rows = tx.execute("SELECT serial, citizen_number FROM cards WHERE serial > ? "
                                  "ORDER BY serial LIMIT ?", (after, _PAGE)).fetchall()
            yield from ((r[0], r[1]) for r in rows)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def count(self) -> int:
        with self._db.connection() as tx:
            return int(tx.execute("SELECT count(*) FROM cards").fetchone()[0])

    def all_rows(self) -> list[CardRow]:
        """Every row in serial order (import, export)."""
        with self._db.connection() as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM cards ORDER BY serial").fetchall()
        return [_row_to_card(r) for r in rows]

    def ensure_can_issue(self, citizen_number: str, serial: str) -> None:
        """Raise CitizenHasCardError if the citizen holds (or is being issued) a card other than
        ``serial``."""
        key = normalize_serial(serial)
        with self._db.connection() as tx:
            row = _holding_row(tx, citizen_number)
        if row is not None and row[0] != key:
            raise _has_card(row[0])

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

    def replaced_by(self, serial: str) -> str | None:
        """The card that replaced ``serial`` (the registry's old -> new link), if any."""
        with self._db.connection() as tx:
            row = tx.execute("SELECT new_serial FROM card_links WHERE old_serial = ?",
                             (normalize_serial(serial),)).fetchone()
        return None if row is None else row[0]

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
