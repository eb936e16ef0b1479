"""Pairing of client apps: ``POST /v1/pairing`` (no token, loopback clients only) and
``GET /v1/pairing/{id}`` for the app; the pending list, approval and denial for an admin."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request

from cardservice.api.deps import AdminClient, RuntimeDep
from cardservice.api.errors import ForbiddenError
from cardservice.api.models import ErrorBody
from cardservice.api.pairing_models import (
    PairingApproveIn,
    PairingCreated,
    PairingDenyIn,
    PairingIn,
    PairingPending,
    PairingStatus,
)
from cardservice.config import is_loopback
from cardservice.store.pairing import PairingRequest

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/pairing", tags=["pairing"])

REQUEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "the app is not on this machine (loopback only)"},
    429: {"model": ErrorBody, "description": "too many requests a minute, or too many pending"},
}
DECIDE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no pending request with this code"},
}


def _public(req: PairingRequest) -> dict[str, Any]:
    status = "approved" if req.status == "claimed" else req.status
    return {"code": req.code, "app_name": req.app_name, "status": status, "role": req.role,
            "created_at": req.created_at, "expires_at": req.expires_at}


@router.post("", response_model=PairingCreated, status_code=201, responses=REQUEST_RESPONSES)
async def request_pairing(body: PairingIn, request: Request, runtime: RuntimeDep) -> Any:
    client = request.client
    if client is not None and not is_loopback(client.host):
        raise ForbiddenError("pairing is open to apps on this machine only")
    req = await asyncio.to_thread(runtime.pairing().request, body.name)
    return {"id": req.id, "code": req.code, "expires_at": req.expires_at}


@router.get("", response_model=list[PairingPending])
async def pending(runtime: RuntimeDep, _client: AdminClient) -> Any:
    return [_public(r) for r in await asyncio.to_thread(runtime.pairing().pending)]


@router.post("/approve", response_model=PairingPending, responses=DECIDE_RESPONSES)
async def approve(body: PairingApproveIn, runtime: RuntimeDep, client: AdminClient) -> Any:
    req = await asyncio.to_thread(runtime.pairing().approve, body.code, body.role, client.name)
    return _public(req)


@router.post("/deny", response_model=PairingPending, responses=DECIDE_RESPONSES)
async def deny(body: PairingDenyIn, runtime: RuntimeDep, client: AdminClient) -> Any:
    return _public(await asyncio.to_thread(runtime.pairing().deny, body.code, client.name))


@router.get("/{request_id}", response_model=PairingStatus,
            responses={404: {"model": ErrorBody, "description": "no such pairing request"}})
async def poll(request_id: str, runtime: RuntimeDep) -> Any:
    result = await asyncio.to_thread(runtime.pairing().poll, request_id)
    return {"status": result.status, "token": result.token, "role": result.role}
