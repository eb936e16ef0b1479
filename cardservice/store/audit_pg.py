"""The audit log on PostgreSQL: several sites append at once, one hash chain per site.

An entry's hash is ``SHA-256(prev_hash || canonical)`` where ``canonical`` is the JSON array
``[site_id, site_seq, ts, kind, operation, card_serial, reader, actor, intent_id, outcome,
sequence, error_code, detail]`` as PostgreSQL's ``json_build_array(...)::text`` writes it (items
separated by ", "; :func:`canonical_pg` is the same in Python). ``prev_hash`` is the previous
entry *of the same site* (32 zero bytes for its first). Appends of one site serialise on a
transaction-scoped advisory lock; an outcome also locks its intent, so two sites cannot close one
intent twice. Verification (audit_verify_pg.py) checks every chain in the server and reports
the site and entry that broke.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cardservice.errors import NotFoundError, ValidationError
from cardservice.store import audit_verify_pg, db
from cardservice.store.audit import (
    GENESIS_HASH,
    MAX_LIMIT,
    AuditEntry,
    AuditStateError,
    AuditVerifyResult,
    _check_columns,
    _encode_detail,
    pending_query,
)
from cardservice.store.audit_schema import COMPONENT
from cardservice.store.audit_seal import CheckpointSeal
from cardservice.store.base import Store
from cardservice.store.database import POSTGRESQL, Database

logger = logging.getLogger(__name__)

_FIELDS = ("site_id, site_seq, ts, kind, operation, card_serial, reader, actor, intent_id, "
           "outcome, sequence, error_code, detail")
_SELECT = f"SELECT id, {_FIELDS}, prev_hash, hash FROM audit"
_INTENT_LOCK_BASE = 1 << 32  # intents lock above the int4 range the site locks use


def canonical_pg(fields: tuple[Any, ...]) -> bytes:
    """The canonical bytes of an entry, as ``json_build_array(...)::text`` writes them."""
    return json.dumps(list(fields), ensure_ascii=False, separators=(", ", ": ")).encode("utf-8")


def _row_to_entry(row: tuple) -> AuditEntry:
    return AuditEntry(
        id=row[0], site_id=row[1], site_seq=row[2], ts=db.from_db_time(row[3]), kind=row[4],
        operation=row[5], card_serial=row[6], reader=row[7], actor=row[8], intent_id=row[9],
        outcome=row[10], sequence=row[11], error_code=row[12], detail=json.loads(row[13]),
        prev_hash=bytes(row[14]), hash=bytes(row[15]),
    )  # fmt: skip


class PgAuditLog(Store):
    """The county audit log; this process appends to the chain of its ``site_id``."""

    COMPONENT = COMPONENT

    def __init__(self, target: Database) -> None:
        if not isinstance(target, Database) or target.backend != POSTGRESQL:
            raise TypeError("PgAuditLog needs a PostgreSQL database")
        super().__init__(target)

    # --- appends -----------------------------------------------------------------------

    def intent(self, *, operation: str, card_serial: str | None, reader: str | None,
               actor: str | None, detail: Mapping[str, Any] | None, now: datetime) -> int:
        return self._append(now, "intent", operation, card_serial, reader, actor,
                            None, None, None, None, detail)  # fmt: skip

    def outcome(self, intent_id: int, *, success: bool | None, sequence: int | None,
                error_code: str | None, detail: Mapping[str, Any] | None, now: datetime,
                reconciled: bool = False) -> int:
        if success is None:
            result = "unknown"
        else:
            result = ("reconciled_" if reconciled else "") + ("success" if success else "failure")
        with self._db.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_INTENT_LOCK_BASE + int(intent_id),))
            intent = _require_open_intent(tx, intent_id)
            return self._append_tx(tx, now, "outcome", intent.operation, intent.card_serial,
                                   intent.reader, intent.actor, intent_id, result, sequence,
                                   error_code, detail)  # fmt: skip

    def event(self, *, operation: str, card_serial: str | None, actor: str | None,
              detail: Mapping[str, Any] | None, now: datetime) -> int:
        return self._append(now, "event", operation, card_serial, None, actor,
                            None, None, None, None, detail)  # fmt: skip

    def _append(self, now: datetime, *fields: Any) -> int:
        with self._db.transaction() as tx:
            return self._append_tx(tx, now, *fields)

    def _append_tx(self, tx, now: datetime, kind: str, operation: str, *rest: Any) -> int:
        if not isinstance(operation, str) or not operation:
            raise ValidationError("operation", "must be a non-empty string")
        *columns, detail = rest
        _check_columns([operation, *columns])
        site = self.site_id
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", ("cardservice audit " + site,))
        last = tx.execute("SELECT site_seq, hash FROM audit WHERE site_id = ? "
                          "ORDER BY site_seq DESC LIMIT 1", (site,)).fetchone()
        seq, prev = (1, GENESIS_HASH) if last is None else (last[0] + 1, bytes(last[1]))
        fields = (site, seq, db.to_db_time(now), kind, operation, *columns,
                  _encode_detail(detail))  # fmt: skip
        digest = hashlib.sha256(prev + canonical_pg(fields)).digest()
        row = tx.execute(f"INSERT INTO audit ({_FIELDS}, prev_hash, hash) VALUES "
                         f"({', '.join('?' * 15)}) RETURNING id", (*fields, prev, digest))
        entry_id = int(row.fetchone()[0])
        logger.debug("audit %d (%s #%d): %s %s", entry_id, site, seq, kind, operation)
        return entry_id

    def append_imported(self, tx, entry: AuditEntry, intent_ids: dict[int, int]) -> int:
        """Copy one entry of a SQLite chain into this site's chain (``db import``): the same
        fields, its intent re-numbered to the county id; hashed into the site chain."""
        intent_id = intent_ids.get(entry.intent_id) if entry.intent_id is not None else None
        return self._append_tx(tx, entry.ts, entry.kind, entry.operation, entry.card_serial,
                               entry.reader, entry.actor, intent_id, entry.outcome,
                               entry.sequence, entry.error_code, entry.detail)  # fmt: skip

    # --- queries -----------------------------------------------------------------------

    def pending(self, card_serial: str | None = None) -> list[AuditEntry]:
        sql, params = pending_query(_SELECT, card_serial)
        with self._db.connection() as tx:
            rows = tx.execute(sql, params).fetchall()
        return [_row_to_entry(r) for r in rows]

    def entries(self, *, card_serial: str | None = None, limit: int = 100,
                after_id: int | None = None, before_id: int | None = None) -> list[AuditEntry]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"must be between 1 and {MAX_LIMIT}", reason="range")
        where, args = ["TRUE"], []
        for clause, value in (("card_serial = ?", card_serial), ("id > ?", after_id),
                              ("id < ?", before_id)):  # fmt: skip
            if value is not None:
                where.append(clause)
                args.append(value)
        with self._db.connection() as tx:
            rows = tx.execute(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                              (*args, limit)).fetchall()
        return [_row_to_entry(r) for r in rows]

    def head(self) -> tuple[int, bytes]:
        """(last site_seq, last hash) of this site's chain."""
        with self._db.connection() as tx:
            row = tx.execute("SELECT site_seq, hash FROM audit WHERE site_id = ? "
                             "ORDER BY site_seq DESC LIMIT 1", (self.site_id,)).fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), bytes(row[1]))

    def count(self) -> int:
        with self._db.connection() as tx:
            return int(tx.execute("SELECT count(*) FROM audit").fetchone()[0])

    # --- verification ------------------------------------------------------------------

    def verify(self, *, full: bool = False, record: bool = True,
               seal: CheckpointSeal | None = None,
               anchors: dict[str, tuple[int, bytes]] | None = None) -> AuditVerifyResult:
        """Check every site's chain (from its newest checkpoint unless ``full``) and report
        the first site (in name order) and entry that break; a chain that verified and grew
        gets a new checkpoint (``record``), signed with ``seal`` (which then also decides which
        stored checkpoints to trust); every chain must reach its entry in ``anchors``. See
        :mod:`cardservice.store.audit_verify_pg` and :mod:`cardservice.store.audit_seal`."""
        return audit_verify_pg.verify(self._db, full=full, record=record, seal=seal,
                                      anchors=anchors)

    def checkpoints(self, seal: CheckpointSeal | None = None) -> dict[str, tuple[int, bytes]]:
        """The newest verified checkpoint of each site chain (with ``seal``: the newest it
        trusts): {site: (site_seq, hash)}."""
        return audit_verify_pg.latest_checkpoints(self._db, seal)


def _require_open_intent(tx, intent_id: int) -> AuditEntry:
    row = tx.execute(f"{_SELECT} WHERE id = ?", (intent_id,)).fetchone()
    if row is None or row[4] != "intent":
        raise NotFoundError(f"audit entry {intent_id} is not an intent")
    closed = tx.execute("SELECT id FROM audit WHERE intent_id = ? AND outcome != 'unknown' "
                        "LIMIT 1", (intent_id,)).fetchone()
    if closed is not None:
        raise AuditStateError(f"intent {intent_id} already has outcome entry {closed[0]}")
    return _row_to_entry(row)
