"""Expired write reservations are released, and every release is audited.

A write reserves its registry row before the first card APDU and confirms it after the
read-back. A reservation that was neither confirmed nor released (the card left the reader and
never came back, the process died) expires after :data:`RESERVATION_TTL`. It is then released
automatically: by the next write that touches the same card or citizen (before that write takes
its own reservation), and by the daemon's periodic sweep. A pending issue's row goes away (the
citizen may be issued a card again); a known card keeps its state and loses only the pending
write. The card's audit intent stays pending: the next read of that card still settles it from
what the card holds (and registers the card if the write did land after all).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardRow, CardStatus, Registry

logger = logging.getLogger(__name__)

#: a reservation older than this has expired
RESERVATION_TTL = timedelta(minutes=10)
#: how often the daemon sweeps for expired reservations
SWEEP_INTERVAL_S = 60.0
#: the audit operation of a release
RELEASE_OPERATION = "release_reservation"


def release_expired(registry: Registry, audit: AuditLog, now: datetime, *,
                    ttl: timedelta = RESERVATION_TTL, serial: str | None = None,
                    citizen_number: str | None = None, actor: str = "system") -> list[CardRow]:
    """Release reservations taken before ``now - ttl`` (all, or those of ``serial`` /
    ``citizen_number``); one audit event per release. Returns the released rows as they were."""
    released = registry.release_expired(now - ttl, serial=serial, citizen_number=citizen_number)
    for row in released:
        audit.event(operation=RELEASE_OPERATION, card_serial=row.serial, actor=actor,
                    detail=release_detail(row, registry.site_id, "expired"), now=now)
    if released:
        logger.info("released %d expired reservation(s)", len(released))
    return released


def release_detail(row: CardRow, site: str, reason: str) -> dict:
    return {"reason": reason, "site": site, "reserved_by": row.pending_site,
            "reserved_at": row.pending_since.isoformat() if row.pending_since else None,
            "pending_sequence": row.pending_sequence,
            "pending_issue": row.status is CardStatus.PENDING}
