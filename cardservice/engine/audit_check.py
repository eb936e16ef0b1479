"""`audit verify` as the CLI and the daemon run it (``GET /v1/audit/verify``).

SQLite: the whole chain. PostgreSQL: each site chain from its checkpoint
(:mod:`cardservice.store.audit_verify_pg`), and with this site's keys

* the checkpoints it records are signed with the authority key, and only signed ones are
  trusted (:mod:`cardservice.store.audit_seal`, :class:`cardservice.pki.checkpoints.KeySeal`);
* each chain must reach the checkpoint this PC's last good verify kept in its data directory
  (``audit-anchors.json``: site -> [entry, hash]; written again after each good verify), the
  one record an owner who deletes checkpoint rows cannot reach.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from cardservice import errors
from cardservice.engine.service import Service
from cardservice.pki.checkpoints import KeySeal
from cardservice.pki.keys import Keys
from cardservice.store.audit import AuditVerifyResult
from cardservice.store.audit_pg import PgAuditLog

logger = logging.getLogger(__name__)

ANCHORS_FILE = "audit-anchors.json"


def verify_log(service: Service, log, *, full: bool) -> AuditVerifyResult:
    """Verify ``service``'s audit ``log``; on PostgreSQL with its keys (where it has them)
    signing and trusting only signed checkpoints, and with its data directory's anchors."""
    if not isinstance(log, PgAuditLog):
        return log.verify(full=full)
    keys = _keys(service)
    seal = None if keys is None else KeySeal(keys.signer, keys.trust)
    if seal is None:
        logger.warning("audit checkpoints are neither signed nor checked: no keys here")
    path = service.home.root / ANCHORS_FILE
    anchors = read_anchors(path)
    result = log.verify(full=full, seal=seal, anchors=anchors)
    if result.ok:
        write_anchors(path, log.checkpoints(seal))
    return result


def _keys(service: Service) -> Keys | None:
    """The keys that sign checkpoints; None in verify-only mode (the engine has none) or
    while they are missing."""
    try:
        return service.engine.keys
    except errors.CardServiceError as exc:
        logger.warning("audit checkpoints: %s", exc.message)
        return None


def read_anchors(path: Path) -> dict[str, tuple[int, bytes]]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {site: (int(seq), bytes.fromhex(digest)) for site, (seq, digest) in raw.items()}


def write_anchors(path: Path, checkpoints: dict[str, tuple[int, bytes]]) -> None:
    """Replaced at once (a crash leaves the old file or the new one)."""
    kept = {site: [seq, digest.hex()] for site, (seq, digest) in sorted(checkpoints.items())}
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(kept, indent=1) + "\n")
    os.replace(partial, path)
