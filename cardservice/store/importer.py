"""``cardservice db import --from HOME``: move a single-PC SQLite data directory into the county
PostgreSQL registry under this site.

* The source audit chain must verify. One ``import`` event in this site's chain records the
  source's head (last id and hash). The source chain is kept verbatim in ``audit_import`` (its
  original ids, fields and hashes, under that event's id), so ``audit verify --full`` recomputes
  it with the SQLite canonical form and proves the imported history was not altered since. Its
  entries are also appended, in order, to this site's chain (same fields, intents re-numbered to
  county ids) so the county's queries and pending intents see them. A source whose head was
  imported before is refused (no double import).
* The source's schema is brought to this software's version first (``db upgrade`` of that
  directory: it only adds columns; its entries and hashes stay as they are).
* Registry rows are copied with their sequences and statuses; a card already in the county
  registry, or a citizen active here and at another site, is reported as a conflict and not
  copied (never merged silently). Rows and audit entries go in one transaction.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from cardservice import errors
from cardservice.store import db, migrations
from cardservice.store.audit import AuditLog
from cardservice.store.audit_pg import PgAuditLog
from cardservice.store.audit_schema import COMPONENT as AUDIT_COMPONENT
from cardservice.store.audit_verify_pg import check_source_chain
from cardservice.store.database import SqliteDatabase
from cardservice.store.registry import _INSERT, CardStatus, Registry, _holding_row, _select
from cardservice.store.registry_schema import COMPONENT as REGISTRY_COMPONENT
from cardservice.store.stores import DEFAULT_SITE

logger = logging.getLogger(__name__)


@dataclass
class ImportReport:
    site_id: str
    cards: int = 0
    audit_entries: int = 0
    conflicts: list[dict] = field(default_factory=list)


def import_home(registry: Registry, audit: PgAuditLog, source: Path, now: datetime) -> ImportReport:
    if registry.database.backend != "postgresql":
        raise errors.ValidationError("CARDSERVICE_DATABASE_URL", "db import copies into "
                                     "PostgreSQL; set the county database URL", reason="empty")
    for name, component in (("registry", REGISTRY_COMPONENT), ("audit", AUDIT_COMPONENT)):
        database = SqliteDatabase(source / f"{name}.db")
        try:
            migrations.upgrade(database, component)
        finally:
            database.close()
    src_registry, src_audit = Registry(source / "registry.db"), AuditLog(source / "audit.db")
    try:
        return _copy(registry, audit, src_registry, src_audit, source, now)
    finally:
        src_registry.close()
        src_audit.close()


def _copy(registry: Registry, audit: PgAuditLog, src_registry: Registry, src_audit: AuditLog,
          source: Path, now: datetime) -> ImportReport:
    checked = src_audit.verify()
    if not checked.ok:
        raise errors.ValidationError("from", f"the audit chain in {source} is broken at entry "
                                     f"{checked.first_broken_id}: {checked.reason}",
                                     reason="audit_broken")
    head_id, head_hash = src_audit.head()
    site = registry.site_id
    report = ImportReport(site)
    with registry.database.transaction() as tx:
        if tx.execute("SELECT 1 FROM audit WHERE site_id = ? AND operation = 'import' AND "
                      "detail LIKE ?", (site, f'%"source_head_hash":"{head_hash.hex()}"%')
                      ).fetchone():
            raise errors.ValidationError("from", f"{source} was imported into site {site} "
                                         "before", reason="already_imported")
        for row in src_registry.all_rows():
            conflict = _conflict(tx, row)
            if conflict:
                report.conflicts.append(conflict)
                continue
            tx.execute(_INSERT, replace(row, issued_site=_here(row.issued_site, site),
                                        last_write_site=_here(row.last_write_site, site)).to_db())
            _copy_identity(tx, src_registry, row.serial, now)
            report.cards += 1
        source_rows = [(*r[:-2], bytes(r[-2]), bytes(r[-1])) for r in src_audit.iter_stored()]
        reason = check_source_chain(source_rows, head_id, head_hash)
        if reason is not None:  # verified by SQLite above: the reference form must agree
            raise errors.ValidationError("from", f"the audit chain in {source} cannot be "
                                         f"reproduced for import: {reason}",
                                         reason="audit_broken")
        import_id = audit._append_tx(
            tx, now, "event", "import", None, None, "cli", None, None, None, None,
            {"source_entries": head_id, "source_head_hash": head_hash.hex(),
             "cards": report.cards, "conflicts": len(report.conflicts),
             "source_chain_kept": True})
        tx.executemany(f"INSERT INTO audit_import (import_id, {_SOURCE_COLUMNS}) VALUES "
                       f"({', '.join('?' * 16)})", [(import_id, *r) for r in source_rows])
        intent_ids: dict[int, int] = {}
        for entry in src_audit.iter_all():
            new_id = audit.append_imported(tx, entry, intent_ids)
            if entry.kind == "intent":
                intent_ids[entry.id] = new_id
            report.audit_entries += 1
    logger.info("imported %d cards, %d audit entries into site %s (%d conflicts)",
                report.cards, report.audit_entries, site, len(report.conflicts))
    return report


_SOURCE_COLUMNS = ("source_id, ts, kind, operation, card_serial, reader, actor, intent_id, "
                   "outcome, sequence, error_code, detail, source_site, prev_hash, hash")


def _copy_identity(tx, src_registry: Registry, serial: str, now: datetime) -> None:
    fields = src_registry.identity(serial)
    if fields is not None:
        tx.execute("INSERT INTO card_identities (serial, identity, recorded_at) VALUES (?, ?, ?)",
                   (serial, json.dumps(fields, ensure_ascii=False, sort_keys=True),
                    db.to_db_time(now)))


def _here(recorded: str | None, site: str) -> str:
    """A single PC's rows name no site (or the default one): they become this site's."""
    return site if recorded in (None, DEFAULT_SITE) else recorded


def _conflict(tx, row) -> dict | None:
    there = _select(tx, row.serial)
    if there is not None:
        return {"card_serial": row.serial, "citizen_number": row.citizen_number,
                "reason": "card already in the county registry",
                "county_site": there.issued_site}
    if row.status in (CardStatus.ACTIVE, CardStatus.PENDING):
        holder = _holding_row(tx, row.citizen_number)
        if holder is not None:
            return {"card_serial": row.serial, "citizen_number": row.citizen_number,
                    "reason": "citizen active at two sites", "county_card": holder[0],
                    "county_site": holder[12]}
    return None
