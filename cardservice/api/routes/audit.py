"""The audit log (admin): recent entries and the hash-chain check."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Query

from cardservice.api.deps import AdminClient, RuntimeDep
from cardservice.api.models import AuditEntry, AuditVerify
from cardservice.engine.audit_check import verify_log
from cardservice.engine.views import audit_dict
from cardservice.store.registry import normalize_serial

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditEntry])
async def entries(runtime: RuntimeDep, _client: AdminClient, card_serial: str | None = None,
                  limit: int = Query(100, ge=1, le=1000)) -> Any:
    serial = normalize_serial(card_serial) if card_serial else None
    rows = await asyncio.to_thread(runtime.audit().entries, card_serial=serial, limit=limit)
    return [audit_dict(e) for e in rows]


@router.get("/verify", response_model=AuditVerify)
async def verify(runtime: RuntimeDep, _client: AdminClient,
                 full: bool = Query(False, description="PostgreSQL: check every chain from its "
                                    "first entry, not from its last verified checkpoint")) -> Any:
    log = runtime.audit()
    result = await asyncio.to_thread(verify_log, runtime.service, log, full=full)
    pending = [e.id for e in await asyncio.to_thread(log.pending)]
    return {"ok": result.ok, "entries": result.entries, "first_broken_id": result.first_broken_id,
            "reason": result.reason, "pending_intents": pending, "site": result.site,
            "sites": result.sites, "full": result.full, "checked_from": result.checked_from}
