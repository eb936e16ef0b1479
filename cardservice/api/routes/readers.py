"""``GET /v1/readers`` and ``GET /v1/readers/{id}/card`` (read and verify)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from ...readers import reader_id
from ...views import card_dict
from ..deps import ReaderClient, RuntimeDep
from ..models import Card, Reader

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/readers", tags=["readers"])


@router.get("", response_model=list[Reader])
async def list_readers(runtime: RuntimeDep, _client: ReaderClient) -> list[dict[str, Any]]:
    return [{"id": reader_id(i.name), "name": i.name, "card_present": i.card_present,
             "atr_hex": i.atr.hex() if i.atr else None} for i in await runtime.readers()]


@router.get("/{rid}/card", response_model=Card)
async def read_card(rid: str, runtime: RuntimeDep, _client: ReaderClient) -> dict[str, Any]:
    view = await runtime.on_card(rid, "read", runtime.engine.read, write=False)
    return card_dict(view)
