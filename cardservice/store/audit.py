"""The append-only, hash-chained audit log (its own SQLite file; PostgreSQL: audit_pg.py).

Every card write is bracketed by an *intent* (durable before the first card write) and an
*outcome*; other actions (revoke, ...) are single *events*. Each entry's hash is
``SHA-256(prev_hash || canonical(entry))`` where ``canonical`` is the compact JSON array of the
entry's fields in a fixed order, with ``detail`` embedded as its own sorted-key JSON text; the
first entry's ``prev_hash`` is 32 zero bytes. SQLite triggers refuse UPDATE and DELETE on the
entries, and a one-row ``audit_head`` table (written in the same transaction as each append)
holds the last id and hash so a truncated tail is detected too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cardservice.errors import CardServiceError, NotFoundError, ValidationError
from cardservice.store import audit_chain, audit_parallel, db
from cardservice.store.audit_schema import COMPONENT, open_intents_differ
from cardservice.store.base import Store
from cardservice.store.database import SQLITE, Database

logger = logging.getLogger(__name__)

GENESIS_HASH = audit_chain.GENESIS_HASH
MAX_LIMIT = 10_000

KINDS = ("intent", "outcome", "event")
OUTCOMES = ("success", "failure", "unknown", "reconciled_success", "reconciled_failure")

# Column order of the table = order of the canonical encoding (minus the two hashes); the
# site (schema v2) comes last and is in the encoding only when the entry recorded one.
_FIELDS = (
    "id, ts, kind, operation, card_serial, reader, actor, intent_id, outcome, sequence, "
    "error_code, detail"
)
_SELECT = f"SELECT {_FIELDS}, prev_hash, hash, site_id FROM audit"
_FIELD_NAMES = (*(name.strip() for name in _FIELDS.split(",")), "site_id")


# The canonical encoding is the compact JSON array of the 12 fields in table order (and the
# site, for entries that record one), built by SQLite's json_array() both when an entry is
# written and when the chain is verified (so the two cannot drift, and verify streams one blob
# per row). Text fields hold no control characters, so the only escapes are \" and \\;
# canonical_bytes() is the reference, pinned by a unit test.
_CANONICAL_SQL = (f"CAST(CASE WHEN site_id IS NULL THEN json_array({_FIELDS}) "
                  f"ELSE json_array({_FIELDS}, site_id) END AS BLOB)")
_CANONICAL_OF_PARAMS = (
    f"SELECT {_CANONICAL_SQL} FROM (SELECT " + ", ".join(f"? AS {c}" for c in _FIELD_NAMES) + ")"
)
_VERIFY_SQL = f"SELECT id, prev_hash, hash, {_CANONICAL_SQL} FROM audit ORDER BY id"
_DETAIL_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


class AuditStateError(CardServiceError):
    """The audit log refused an append that breaks its rules (e.g. a second outcome)."""

    code = "AUDIT_STATE"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: datetime
    kind: str
    operation: str
    card_serial: str | None
    reader: str | None
    actor: str | None
    intent_id: int | None
    outcome: str | None
    sequence: int | None
    detail: dict[str, Any]
    prev_hash: bytes
    hash: bytes
    error_code: str | None = None
    site_id: str | None = None  # the site that appended it (SQLite: entries since schema v2)
    site_seq: int | None = None  # PostgreSQL: its place in that site's chain


@dataclass(frozen=True)
class AuditVerifyResult:
    ok: bool
    entries: int
    first_broken_id: int | None
    reason: str | None
    site: str | None = None  # PostgreSQL: the site whose chain broke
    sites: dict[str, int] | None = None  # PostgreSQL: entries checked per site chain
    full: bool = True  # False: each chain was checked from its newest checkpoint on
    checked_from: dict[str, int] | None = None  # PostgreSQL: the first site_seq checked


def canonical_bytes(fields: tuple[Any, ...]) -> bytes:
    """Reference implementation of the canonical encoding (documentation, tests, imported
    chains): the compact JSON array of the fields (the 12, plus the site when the entry
    recorded one), non-ASCII characters as UTF-8."""
    return json.dumps(list(fields), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(prev_hash + canonical).digest()


def _encode_detail(detail: Mapping[str, Any] | None) -> str:
    try:
        text = _DETAIL_ENCODER.encode(dict(detail or {}))
        text.encode("utf-8")
        return text
    except (TypeError, ValueError) as exc:
        raise ValidationError("detail", f"not JSON-serializable: {exc}") from exc


def _check_columns(columns: list[Any]) -> None:
    """The indexed columns must round-trip through SQLite unchanged and encode canonically:
    integers in 0..2**63-1, text valid UTF-8 without control characters."""
    names = ("operation", "card_serial", "reader", "actor", "intent_id", "outcome", "sequence",
             "error_code")  # fmt: skip
    for name, value in zip(names, columns, strict=True):
        wanted = int if name in ("intent_id", "sequence") else str
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise ValidationError(name, f"must be {wanted.__name__} or None", reason="type")
        if wanted is int and not 0 <= value < 2**63:
            raise ValidationError(name, "out of range", reason="range")
        if wanted is str and not _is_clean_text(value):
            raise ValidationError(
                name, "contains control characters or is not valid UTF-8", reason="encoding"
            )


def _is_clean_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(ch) < 0x20 for ch in value)


def pending_query(select: str, card_serial: str | None) -> tuple[str, tuple]:
    """The open intents (the ``audit_open`` table the triggers keep, schema v3), oldest first."""
    where = " WHERE card_serial = ?" if card_serial is not None else ""
    return (f"{select} WHERE id IN (SELECT intent_id FROM audit_open{where}) ORDER BY id",
            (card_serial,) if card_serial is not None else ())


def _row_to_entry(row: tuple) -> AuditEntry:
    return AuditEntry(
        id=row[0], ts=db.from_db_time(row[1]), kind=row[2], operation=row[3],
        card_serial=row[4], reader=row[5], actor=row[6], intent_id=row[7], outcome=row[8],
        sequence=row[9], error_code=row[10], detail=json.loads(row[11]),
        prev_hash=bytes(row[12]), hash=bytes(row[13]), site_id=row[14],
    )  # fmt: skip


class AuditLog(Store):
    """The audit log in one SQLite file (or ``":memory:"``): one hash chain; appends from
    threads serialize. PostgreSQL: :class:`cardservice.store.audit_pg.PgAuditLog`."""

    COMPONENT = COMPONENT

    def __init__(self, target: Path | str | Database) -> None:
        super().__init__(target)
        if self._db.backend != SQLITE:
            raise TypeError("AuditLog is the SQLite audit log; use store.open_audit()")
        self._lock = self._db.lock

    # --- appends -----------------------------------------------------------------------

    def intent(
        self,
        *,
        operation: str,
        card_serial: str | None,
        reader: str | None,
        actor: str | None,
        detail: Mapping[str, Any] | None,
        now: datetime,
    ) -> int:
        """Record the intent to write a card; committed (fsync'd) before this returns."""
        return self._append(now, "intent", operation, card_serial, reader, actor,
                            None, None, None, None, detail)  # fmt: skip

    def outcome(
        self,
        intent_id: int,
        *,
        success: bool | None,
        sequence: int | None,
        error_code: str | None,
        detail: Mapping[str, Any] | None,
        now: datetime,
        reconciled: bool = False,
    ) -> int:
        """Record how an intent ended. ``success=None`` records "unknown" (e.g. card pulled
        mid-write); the intent then stays pending until a later, definite outcome."""
        if success is None:
            result = "unknown"
        else:
            result = ("reconciled_" if reconciled else "") + ("success" if success else "failure")
        with db.write_transaction(self._conn, self._lock):
            intent = self._require_open_intent(intent_id)
            return self._append_locked(now, "outcome", intent.operation, intent.card_serial,
                                       intent.reader, intent.actor, intent_id, result,
                                       sequence, error_code, detail)  # fmt: skip

    def event(
        self,
        *,
        operation: str,
        card_serial: str | None,
        actor: str | None,
        detail: Mapping[str, Any] | None,
        now: datetime,
    ) -> int:
        """Record a one-step action that writes no card (revoke, token changes, ...)."""
        return self._append(now, "event", operation, card_serial, None, actor,
                            None, None, None, None, detail)  # fmt: skip

    def _append(self, now: datetime, *fields: Any) -> int:
        with db.write_transaction(self._conn, self._lock):
            return self._append_locked(now, *fields)

    def _append_locked(self, now: datetime, kind: str, operation: str, *rest: Any) -> int:
        if not isinstance(operation, str) or not operation:
            raise ValidationError("operation", "must be a non-empty string")
        *columns, detail = rest
        _check_columns([operation, *columns])
        last_id, prev_hash = self._conn.execute(
            "SELECT last_id, last_hash FROM audit_head WHERE one = 1"
        ).fetchone()
        fields = (last_id + 1, db.to_db_time(now), kind, operation, *columns,
                  _encode_detail(detail), self.site_id)  # fmt: skip
        canonical = self._conn.execute(_CANONICAL_OF_PARAMS, fields).fetchone()[0]
        digest = entry_hash(bytes(prev_hash), canonical)
        self._conn.execute(
            f"INSERT INTO audit ({_FIELDS}, site_id, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*fields, bytes(prev_hash), digest),
        )
        self._conn.execute(
            "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE one = 1", (fields[0], digest)
        )
        logger.debug("audit %d: %s %s", fields[0], kind, operation)
        return fields[0]

    def _require_open_intent(self, intent_id: int) -> AuditEntry:
        row = self._conn.execute(f"{_SELECT} WHERE id = ?", (intent_id,)).fetchone()
        if row is None or row[2] != "intent":
            raise NotFoundError(f"audit entry {intent_id} is not an intent")
        closed = self._conn.execute(
            "SELECT id FROM audit WHERE intent_id = ? AND outcome != 'unknown' LIMIT 1",
            (intent_id,),
        ).fetchone()
        if closed is not None:
            raise AuditStateError(f"intent {intent_id} already has outcome entry {closed[0]}")
        return _row_to_entry(row)

    # --- queries -----------------------------------------------------------------------

    def pending(self, card_serial: str | None = None) -> list[AuditEntry]:
        """Intents with no definite outcome (none, or only "unknown"), oldest first; with
        ``card_serial``, only that card's (an index look-up: cheap on every card read)."""
        sql, params = pending_query(_SELECT, card_serial)
        # reused while nothing was written to the log by any connection (Database.cached)
        rows = self._db.cached(("pending", card_serial),
                               lambda conn: tuple(conn.execute(sql, params).fetchall()))
        return [_row_to_entry(r) for r in rows]

    def entries(
        self,
        *,
        card_serial: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first. ``after_id``: only entries appended after that id (polling);
        ``before_id``: only older ones (paging back)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"must be between 1 and {MAX_LIMIT}", reason="range")
        where, args = ["1"], []
        for clause, value in (("card_serial = ?", card_serial), ("id > ?", after_id),
                              ("id < ?", before_id)):  # fmt: skip
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [_row_to_entry(r) for r in rows]

    def iter_all(self) -> Iterator[AuditEntry]:
        """Every entry in id order (``db import``), read in pages."""
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(f"{_SELECT} WHERE id > ? ORDER BY id LIMIT 5000",
                                          (last,)).fetchall()
            if not rows:
                return
            for row in rows:
                yield _row_to_entry(row)
            last = rows[-1][0]

    def iter_stored(self) -> Iterator[tuple]:
        """Every entry exactly as stored, in id order: (id, ts, kind, operation, card_serial,
        reader, actor, intent_id, outcome, sequence, error_code, detail, site_id, prev_hash,
        hash), the texts as they were hashed (``db import`` keeps the chain verbatim)."""
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT {_FIELDS}, site_id, prev_hash, hash FROM audit WHERE id > ? "
                    "ORDER BY id LIMIT 5000", (last,)).fetchall()
            if not rows:
                return
            yield from rows
            last = rows[-1][0]

    def head(self) -> tuple[int, bytes]:
        """(last id, last hash): copy it elsewhere to anchor the chain against rewriting."""
        with self._lock:
            last_id, last_hash = self._conn.execute(
                "SELECT last_id, last_hash FROM audit_head WHERE one = 1"
            ).fetchone()
        return int(last_id), bytes(last_hash)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM audit").fetchone()[0])

    # --- verification ------------------------------------------------------------------

    def verify(self, *, full: bool = True, record: bool = True) -> AuditVerifyResult:
        """Walk the whole chain in id order and report the first broken entry (always in full:
        the head record guards the tail; ``full`` and ``record`` are for the PostgreSQL log's
        checkpoints)."""
        with self._lock:
            head = self._conn.execute(
                "SELECT last_id, last_hash FROM audit_head WHERE one = 1"
            ).fetchone()
            result, last_hash = self._walk_chain()
            if result.ok:
                result = _check_head(result.entries, last_hash, head)
            differ = open_intents_differ(self._conn) if result.ok else None
        if differ is not None:
            result = AuditVerifyResult(False, result.entries, *differ)
        if not result.ok:
            logger.warning("audit chain broken at %s: %s", result.first_broken_id, result.reason)
        return result

    def _walk_chain(self) -> tuple[AuditVerifyResult, bytes]:
        """The chain's verdict and last good hash: a long log in a file is walked in parallel
        id ranges (audit_parallel), any other in one pass. Called with the lock held."""
        path = getattr(self._db, "path", db.MEMORY)
        max_id = self._conn.execute("SELECT max(id) FROM audit").fetchone()[0] or 0
        parts = audit_parallel.parts_for(max_id)
        if parts > 1 and path not in (db.MEMORY, "") and Path(path).is_file():
            try:
                verdict = audit_parallel.walk_parallel(path, _CANONICAL_SQL, max_id, parts)
                return AuditVerifyResult(*verdict[:4]), verdict[4]
            except (audit_parallel.WalkError, OSError) as exc:
                logger.warning("parallel audit walk failed, walking in one pass: %s", exc)
        return _walk(self._conn.execute(_VERIFY_SQL))


def _walk(rows: Iterator[tuple]) -> tuple[AuditVerifyResult, bytes]:
    """One pass over the rows (SQLite builds the canonical bytes, one SHA-256 per row).
    Returns the verdict and the last good hash."""
    ok, count, first_broken_id, reason, last_hash = audit_chain.walk(rows)
    return AuditVerifyResult(ok, count, first_broken_id, reason), last_hash


def _check_head(count: int, last_hash: bytes, head: tuple | None) -> AuditVerifyResult:
    """Compare the walked chain's end with the head record (detects a cut-off tail)."""
    if head is None:
        return AuditVerifyResult(False, count, count + 1, "head record missing")
    head_id, head_hash = int(head[0]), bytes(head[1])
    if head_id > count:
        reason = f"log ends at entry {count} but the head record says {head_id}"
        return AuditVerifyResult(False, count, count + 1, reason)
    if head_id < count:
        return AuditVerifyResult(False, count, head_id + 1, "entries after the head record")
    if head_hash != last_hash:
        return AuditVerifyResult(False, count, count, "last hash differs from the head record")
    return AuditVerifyResult(True, count, None, None)
