"""Card writes on a reader (issue, re-sign, renew), revocation, and the registry's view."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request

from card_layout.errors import FieldError
from card_layout.identity import Identity
from card_layout.photo import decode_photo_base64, validate_photo
from cardservice import errors
from cardservice.api.deps import AdminClient, OperatorClient, ReaderClient, RuntimeDep
from cardservice.api.idempotent import idempotent, request_id
from cardservice.api.models import (
    ErrorBody,
    IdentityIn,
    IssueIn,
    RegistryCard,
    RenewIn,
    ResignIn,
    RevokeIn,
    WrittenCard,
)
from cardservice.api.routes.face import print_after_write
from cardservice.api.routes.readers import CARD_IO_RESPONSES
from cardservice.api.runtime import Runtime
from cardservice.engine.operations import CardView, PermitRequest
from cardservice.engine.policy import Evidence
from cardservice.engine.views import card_dict, registry_dict
from cardservice.store.registry import normalize_serial
from cardservice.store.tokens import TokenInfo
from cardservice.transport import CardConnection

logger = logging.getLogger(__name__)

router = APIRouter(tags=["cards"])

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **CARD_IO_RESPONSES,
    409: {"model": ErrorBody,
          "description": "reader busy, card changed, already personalized, citizen has a card"},
    422: {"model": ErrorBody,
          "description": "validation (names the field) or policy (names the rule)"},
}
REGISTRY_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "the card is not in the registry"},
    422: {"model": ErrorBody, "description": "not a 16-digit hex serial"},
}


def _identity(body: IdentityIn, today: date) -> Identity:
    try:
        return Identity.create(**body.model_dump(exclude={"photo"}), today=today)
    except FieldError as exc:
        raise errors.ValidationError(f"identity.{exc.field}", exc.message, exc.reason) from exc


def _photo(body: IdentityIn) -> bytes | None:
    """The checked photo bytes (card_layout.photo), or None when the request has none."""
    if body.photo is None:
        return None
    try:
        data = decode_photo_base64(body.photo)
        validate_photo(data)
    except FieldError as exc:
        raise errors.ValidationError("identity.photo", exc.message, exc.reason) from exc
    return data


def _serial(value: str) -> bytes:
    return bytes.fromhex(value)  # the model checked 16 hex digits


async def _write_card(request: Request, runtime: Runtime, client: TokenInfo, rid: str,
                      operation: str, call: Callable[[CardConnection], CardView], *,
                      photo: bytes | None = None) -> Any:
    """Run a card write on the reader (idempotent by key) and answer the card as read back;
    with a printer configured, print what the write changed (``photo``: the one just bound)."""

    async def compute() -> dict[str, Any]:
        view = await runtime.write(rid, operation, call)
        card = card_dict(view)
        # a write repeated after its first attempt landed wrote nothing: nothing to print again
        printed = None if view.repeated else await print_after_write(runtime, card, operation,
                                                                     photo=photo)
        return {**card, "print": printed}  # stored whole for an Idempotency-Key replay

    return await idempotent(request, runtime, client, compute)


@router.post("/v1/readers/{rid}/card/issue", response_model=WrittenCard,
             responses=WRITE_RESPONSES)
async def issue(rid: str, body: IssueIn, request: Request, runtime: RuntimeDep,
                client: OperatorClient) -> Any:
    identity = _identity(body.identity, runtime.engine.today())
    photo = _photo(body.identity)
    res = body.residence
    evidence = Evidence(body.evidence.kind, body.evidence.reference) if body.evidence else None
    permit = PermitRequest(current_residence=res.current_residence, permit_type=res.permit_type,
                           basis=res.basis, sponsor_citizen_number=res.sponsor_citizen_number,
                           expires_on=res.expires_on, evidence=evidence,
                           request_id=await request_id(request, client))

    return await _write_card(request, runtime, client, rid, "issue", lambda conn: (
        runtime.engine.issue(conn, identity, permit, actor=client.name, photo=photo,
                             expected_serial=_serial(body.card_serial))), photo=photo)


@router.post("/v1/readers/{rid}/card/resign", response_model=WrittenCard,
             responses=WRITE_RESPONSES)
async def resign(rid: str, body: ResignIn, request: Request, runtime: RuntimeDep,
                 client: OperatorClient) -> Any:
    evidence = Evidence(body.evidence.kind, body.evidence.reference) if body.evidence else None
    permit = PermitRequest(current_residence=body.current_residence, permit_type=body.permit_type,
                           basis=body.basis, expires_on=body.expires_on, extend=body.extend,
                           evidence=evidence, request_id=await request_id(request, client))

    return await _write_card(request, runtime, client, rid, "resign", lambda conn: (
        runtime.engine.resign(conn, permit, actor=client.name,
                              expected_serial=_serial(body.card_serial))))


@router.post("/v1/readers/{rid}/card/renew", response_model=WrittenCard,
             responses=WRITE_RESPONSES)
async def renew(rid: str, body: RenewIn, request: Request, runtime: RuntimeDep,
                client: OperatorClient) -> Any:
    evidence = Evidence(body.evidence.kind, body.evidence.reference) if body.evidence else None
    permit = PermitRequest(permit_type=body.permit_type, basis=body.basis,
                           expires_on=body.expires_on, evidence=evidence,
                           request_id=await request_id(request, client))

    return await _write_card(request, runtime, client, rid, "renew", lambda conn: (
        runtime.engine.renew(conn, permit, actor=client.name,
                             expected_serial=_serial(body.card_serial))))


@router.post("/v1/cards/{serial}/revoke", response_model=RegistryCard,
             responses=REGISTRY_RESPONSES)
async def revoke(serial: str, body: RevokeIn, request: Request, runtime: RuntimeDep,
                 client: AdminClient) -> Any:
    async def compute() -> dict[str, Any]:
        row = await asyncio.to_thread(runtime.engine.revoke, _checked(serial), body.reason,
                                      actor=client.name)
        return registry_dict(row)

    return await idempotent(request, runtime, client, compute)


@router.get("/v1/cards/{serial}", response_model=RegistryCard, responses=REGISTRY_RESPONSES)
async def registry_card(serial: str, runtime: RuntimeDep, _client: ReaderClient) -> Any:
    row = await asyncio.to_thread(runtime.registry().get, _checked(serial))
    if row is None:
        raise errors.NotFoundError(f"card {serial} is not in the registry")
    return registry_dict(row)


@router.get("/v1/cards", response_model=list[RegistryCard])
async def registry_by_citizen(runtime: RuntimeDep, _client: ReaderClient,
                              citizen_number: str = Query(min_length=1, max_length=32)) -> Any:
    rows = await asyncio.to_thread(runtime.registry().find_by_citizen,
                                   citizen_number.strip().upper())
    return [registry_dict(r) for r in rows]


def _checked(serial: str) -> str:
    return normalize_serial(serial)  # ValidationError (422) unless 16 hex digits
