"""Applications for a permit card (SQLite or PostgreSQL): one row per application, its
searchable columns plus the whole application as JSON (``body``), which the workflow layer
reads and writes.

The database enforces what must hold even for racing writers:

- one open application per citizen: a partial UNIQUE index on the citizen number over the open
  states (a second submission gets :class:`~cardservice.errors.ApplicationOpenError`);
- a state change is a compare-and-set on the status it was decided from (:meth:`update`), so two
  clerks (or two sites) deciding at once cannot both win;
- a production worker *claims* the next certified application (:meth:`claim_next`) in one
  transaction; a claim is released when the card fails, and the stale claims of an interrupted
  run are released when the next run starts (:meth:`release_claims`). A claim carries the time
  it was taken, which its run renews while it runs (:meth:`renew_claims`), so a run on another
  PC can tell a claim whose run died (:meth:`claim_leases`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cardservice.errors import ApplicationOpenError, ApplicationStateError, NotFoundError
from cardservice.store import db, migrations
from cardservice.store.base import Store
from cardservice.store.database import constraint_name

logger = logging.getLogger(__name__)

OPEN_STATES = ("submitted", "audited", "certified", "produced")
_OPEN_SQL = "('submitted', 'audited', 'certified', 'produced')"

_TABLE = f"""
CREATE TABLE applications (
    seq             {{int}} PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    citizen_number  TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('first_issue', 'replacement', 'family')),
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'audited', 'certified',
                                         'produced', 'handed_over', 'rejected', 'cancelled')),
    site            TEXT NOT NULL,
    due_on          {{date}} NOT NULL,
    submitted_at    {{time}} NOT NULL,
    updated_at      {{time}} NOT NULL,
    card_serial     TEXT,
    claimed_by      TEXT,
    body            TEXT NOT NULL
);
CREATE UNIQUE INDEX applications_one_open_per_citizen
    ON applications (citizen_number) WHERE status IN {_OPEN_SQL};
CREATE INDEX applications_by_status_due ON applications (status, due_on, seq);
CREATE INDEX applications_by_card ON applications (card_serial);
"""
COMPONENT = migrations.register(migrations.Component("applications", (
    migrations.Step(1, "applications, one open application per citizen",
                    _TABLE.format(int="INTEGER", date="TEXT", time="TEXT"),
                    _TABLE.format(int="BIGINT", date="DATE", time="TIMESTAMPTZ")),
    migrations.Step(2, "when each production claim was taken or last renewed (its lease)",
                    "ALTER TABLE applications ADD COLUMN claimed_at TEXT",
                    "ALTER TABLE applications ADD COLUMN claimed_at TIMESTAMPTZ"),
)))

_COLUMNS = ("id, citizen_number, kind, status, site, due_on, submitted_at, updated_at, "
            "card_serial, claimed_by, body")


@dataclass(frozen=True)
class ApplicationRow:
    id: str
    citizen_number: str
    kind: str
    status: str
    site: str
    due_on: date
    submitted_at: datetime
    updated_at: datetime
    card_serial: str | None
    claimed_by: str | None
    body: dict[str, Any]


def _row(raw: tuple) -> ApplicationRow:
    return ApplicationRow(
        id=raw[0], citizen_number=raw[1], kind=raw[2], status=raw[3], site=raw[4],
        due_on=db.from_db_date(raw[5]), submitted_at=db.from_db_time(raw[6]),
        updated_at=db.from_db_time(raw[7]), card_serial=raw[8], claimed_by=raw[9],
        body=json.loads(raw[10]))  # fmt: skip


def _select(tx, app_id: str) -> ApplicationRow | None:
    raw = tx.execute(f"SELECT {_COLUMNS} FROM applications WHERE id = ?", (app_id,)).fetchone()
    return None if raw is None else _row(raw)


def _require(tx, app_id: str) -> ApplicationRow:
    row = _select(tx, app_id)
    if row is None:
        raise NotFoundError(f"no application {app_id}", application_id=app_id)
    return row


class ApplicationStore(Store):
    """The applications table on a :class:`Database`; thread-safe."""

    COMPONENT = COMPONENT

    def create(self, *, id_prefix: str, citizen_number: str, kind: str, site: str,
               due_on: date, submitted_at: datetime, body: dict[str, Any]) -> ApplicationRow:
        """Insert a ``submitted`` application; its id is ``id_prefix`` + a 6-digit number."""
        for _attempt in range(5):  # two sites numbering at once: the loser takes the next
            try:
                return self._insert(id_prefix, citizen_number, kind, site, due_on, submitted_at,
                                    body)
            except self._db.IntegrityError as exc:
                if "one_open" in constraint_name(exc) or "citizen_number" in constraint_name(exc):
                    raise ApplicationOpenError(
                        f"citizen {citizen_number} already has an open application") from exc
        raise ApplicationOpenError("could not number the application; try again")

    def _insert(self, id_prefix: str, citizen_number: str, kind: str, site: str, due_on: date,
                submitted_at: datetime, body: dict[str, Any]) -> ApplicationRow:
        with self._db.transaction() as tx:
            seq = tx.execute("SELECT coalesce(max(seq), 0) + 1 FROM applications").fetchone()[0]
            app_id = f"{id_prefix}{int(seq):06d}"
            stamp = db.to_db_time(submitted_at)
            tx.execute(
                f"INSERT INTO applications (seq, {_COLUMNS}) VALUES "
                "(?, ?, ?, ?, 'submitted', ?, ?, ?, ?, NULL, NULL, ?)",
                (seq, app_id, citizen_number, kind, site, db.to_db_date(due_on), stamp, stamp,
                 json.dumps({**body, "id": app_id}, ensure_ascii=False)))
            return _require(tx, app_id)

    def get(self, app_id: str) -> ApplicationRow | None:
        with self._db.connection() as tx:
            return _select(tx, app_id)

    def require(self, app_id: str) -> ApplicationRow:
        with self._db.connection() as tx:
            return _require(tx, app_id)

    def find(self, *, status: str | None = None, site: str | None = None,
             citizen_number: str | None = None, due_before: date | None = None,
             limit: int = 500) -> list[ApplicationRow]:
        """Applications matching every given filter, in due-date order; ``due_before`` keeps
        open applications due before that day (the overdue list)."""
        where, args = [], []
        for column, value in (("status", status), ("site", site),
                              ("citizen_number", citizen_number)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if due_before is not None:
            where.append(f"status IN {_OPEN_SQL} AND due_on < ?")
            args.append(db.to_db_date(due_before))
        sql = f"SELECT {_COLUMNS} FROM applications"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._db.connection() as tx:
            rows = tx.execute(sql + " ORDER BY due_on, seq LIMIT ?", (*args, limit)).fetchall()
        return [_row(r) for r in rows]

    def open_application(self, citizen_number: str, *, other_than: str | None) -> str | None:
        with self._db.connection() as tx:
            raw = tx.execute(f"SELECT id FROM applications WHERE citizen_number = ? "
                             f"AND status IN {_OPEN_SQL}", (citizen_number,)).fetchone()
        return None if raw is None or raw[0] == other_than else raw[0]

    def by_card(self, serial: str) -> ApplicationRow | None:
        """The application that produced card ``serial``."""
        with self._db.connection() as tx:
            raw = tx.execute(f"SELECT {_COLUMNS} FROM applications WHERE card_serial = ? "
                             "ORDER BY seq DESC LIMIT 1", (serial,)).fetchone()
        return None if raw is None else _row(raw)

    def update(self, app_id: str, *, expected_status: str, status: str, now: datetime,
               body: dict[str, Any], card_serial: str | None = None,
               keep_claim: bool = False) -> ApplicationRow:
        """Move an application from ``expected_status`` to ``status`` (compare-and-set)."""
        sets = ["status = ?", "updated_at = ?", "body = ?"]
        args: list[Any] = [status, db.to_db_time(now), json.dumps(body, ensure_ascii=False)]
        if card_serial is not None:
            sets.append("card_serial = ?")
            args.append(card_serial)
        if not keep_claim:
            sets.append("claimed_by = NULL")
        with self._db.transaction() as tx:
            current = _require(tx, app_id)
            if current.status != expected_status:
                raise ApplicationStateError(
                    f"the application is {current.status} (it was {expected_status} when "
                    "the step was decided)", state=current.status)
            tx.execute(f"UPDATE applications SET {', '.join(sets)} WHERE id = ? AND status = ?",
                       (*args, app_id, expected_status))
            return _require(tx, app_id)

    def claim_next(self, run_id: str, now: datetime | None = None) -> ApplicationRow | None:
        """Claim the certified, unclaimed application due first for production run ``run_id``."""
        stamp = db.to_db_time(now or datetime.now(UTC))
        with self._db.transaction() as tx:
            for (app_id,) in tx.execute(
                    "SELECT id FROM applications WHERE status = 'certified' "
                    "AND claimed_by IS NULL ORDER BY due_on, seq LIMIT 5").fetchall():
                taken = tx.execute("UPDATE applications SET claimed_by = ?, claimed_at = ? "
                                   "WHERE id = ? AND claimed_by IS NULL AND status = 'certified'",
                                   (run_id, stamp, app_id)).rowcount
                if taken:
                    return _require(tx, app_id)
        return None

    def claim(self, app_id: str, run_id: str, now: datetime | None = None) -> bool:
        """Claim this certified, unclaimed application for ``run_id`` (held out of the run)."""
        stamp = db.to_db_time(now or datetime.now(UTC))
        with self._db.transaction() as tx:
            return bool(tx.execute("UPDATE applications SET claimed_by = ?, claimed_at = ? "
                                   "WHERE id = ? AND claimed_by IS NULL AND status = 'certified'",
                                   (run_id, stamp, app_id)).rowcount)

    def renew_claims(self, owner: str, now: datetime) -> int:
        """Renew the lease of ``owner``'s claims (a live run does, every so often)."""
        with self._db.transaction() as tx:
            return tx.execute("UPDATE applications SET claimed_at = ? WHERE claimed_by = ? "
                              "AND status = 'certified'", (db.to_db_time(now), owner)).rowcount

    def claim_leases(self) -> dict[str, datetime | None]:
        """Each owner of claims on still-certified applications, with the latest time one of
        them was taken or renewed (None: claims from before leases were kept)."""
        with self._db.connection() as tx:
            rows = tx.execute("SELECT claimed_by, max(claimed_at) FROM applications "
                              "WHERE status = 'certified' AND claimed_by IS NOT NULL "
                              "GROUP BY claimed_by").fetchall()
        return {owner: db.from_db_time_or_none(last) for owner, last in rows}

    def release(self, app_id: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("UPDATE applications SET claimed_by = NULL WHERE id = ?", (app_id,))

    def release_claims(self, *, except_run: str | None = None,
                       owner: str | None = None) -> int:
        """Release the claims on still-certified applications: all of them, all but
        ``except_run``'s, or only ``owner``'s (a run's own, at its end)."""
        sql = ("UPDATE applications SET claimed_by = NULL WHERE status = 'certified' "
               "AND claimed_by IS NOT NULL")
        with self._db.transaction() as tx:
            if owner is not None:
                return tx.execute(sql + " AND claimed_by = ?", (owner,)).rowcount
            if except_run is None:
                return tx.execute(sql).rowcount
            return tx.execute(sql + " AND claimed_by <> ?", (except_run,)).rowcount

    def count(self, status: str | None = None) -> int:
        with self._db.connection() as tx:
            if status is None:
                return int(tx.execute("SELECT count(*) FROM applications").fetchone()[0])
            return int(tx.execute("SELECT count(*) FROM applications WHERE status = ?",
                                  (status,)).fetchone()[0])
