"""Applications: submit at the acceptance point, audit, certify (county), hand over, cancel,
list and the holder's receipt (PDF)."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from card_layout.errors import FieldError
from card_layout.identity import Identity
from cardservice import errors
from cardservice.api.application_models import (
    ApplicationIn,
    ApplicationOut,
    CancelIn,
    DecisionIn,
    HandOverIn,
)
from cardservice.api.deps import CertifierClient, OperatorClient, ReaderClient, RuntimeDep
from cardservice.api.idempotent import idempotent
from cardservice.api.models import ErrorBody
from cardservice.api.routes.cards import _photo
from cardservice.api.runtime import Runtime
from cardservice.engine.policy import Evidence
from cardservice.store.tokens import TokenInfo
from cardservice.workflow.model import Application, Family, Kind, Replacement, Residence
from cardservice.workflow.receipt import render_receipt
from cardservice.workflow.service import Actor, ApplicationService
from cardservice.workflow.wiring import open_applications

logger = logging.getLogger(__name__)

router = APIRouter(tags=["applications"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such application"},
    409: {"model": ErrorBody, "description": "APPLICATION_STATE, APPLICATION_OPEN, "
                                             "CITIZEN_HAS_CARD, CARD_CHANGED"},
    422: {"model": ErrorBody, "description": "validation (field) or policy (rule)"},
}


def applications(runtime: Runtime) -> ApplicationService:
    cached = runtime._stores.get("applications")
    if cached is None:
        cached = runtime._stores["applications"] = open_applications(runtime.service)
    return cached  # type: ignore[return-value]


def actor(runtime: Runtime, client: TokenInfo) -> Actor:
    return Actor(client.name, runtime.service.site_id)


def draft(body: ApplicationIn) -> Application:
    try:
        i = Identity.create(**body.identity.model_dump(exclude={"photo"}))
    except FieldError as exc:
        raise errors.ValidationError(f"identity.{exc.field}", exc.message, exc.reason) from exc
    photo = _photo(body.identity)  # checked now, written to the chip at production
    identity = {"name": i.name, "gender": i.gender.label, "nationality": i.nationality,
                "citizen_number": i.citizen_number, "household_address": i.household_address}
    res = body.residence
    return Application(
        id="", kind=Kind(body.kind), identity=identity,
        residence=Residence(res.current_residence, res.permit_type.value, res.basis), site="",
        submitted_at=datetime.now(UTC), submitted_by="", due_on=datetime.now(UTC).date(),
        evidence=Evidence(body.evidence.kind, body.evidence.reference) if body.evidence else None,
        family=Family(body.sponsor.citizen_number, body.sponsor.relationship)
        if body.sponsor else None,
        replacement=Replacement(body.replacement.card_serial.lower(), body.replacement.reason)
        if body.replacement else None,
        photo=None if photo is None else base64.b64encode(photo).decode("ascii"))


async def _answer(runtime: Runtime, request: Request, client: TokenInfo, call) -> Any:
    async def compute() -> dict[str, Any]:
        svc = applications(runtime)
        return await asyncio.to_thread(lambda: svc.view(call(svc)))

    return await idempotent(request, runtime, client, compute)


@router.post("/v1/applications", response_model=ApplicationOut, status_code=201,
             responses=RESPONSES)
async def submit(body: ApplicationIn, request: Request, runtime: RuntimeDep,
                 client: OperatorClient) -> Any:
    app = draft(body)
    return await _answer(runtime, request, client,
                         lambda svc: svc.submit(app, actor(runtime, client)))


@router.get("/v1/applications", response_model=list[ApplicationOut])
async def find(runtime: RuntimeDep, client: ReaderClient, status: str | None = None,
               site: str | None = None, citizen_number: str | None = None,
               overdue: bool = Query(default=False)) -> Any:
    svc = applications(runtime)
    return await asyncio.to_thread(lambda: svc.views(svc.find(
        status=status, site=site, citizen_number=citizen_number, overdue=overdue)))


@router.get("/v1/applications/{app_id}", response_model=ApplicationOut, responses=RESPONSES)
async def show(app_id: str, runtime: RuntimeDep, client: ReaderClient) -> Any:
    svc = applications(runtime)
    return await asyncio.to_thread(lambda: svc.view(svc.get(app_id)))


@router.post("/v1/applications/{app_id}/audit", response_model=ApplicationOut,
             responses=RESPONSES)
async def audit(app_id: str, body: DecisionIn, request: Request, runtime: RuntimeDep,
                client: OperatorClient) -> Any:
    return await _answer(runtime, request, client, lambda svc: svc.decide(
        app_id, "audit", body.decision == "approve", body.reason, actor(runtime, client)))


@router.post("/v1/applications/{app_id}/certify", response_model=ApplicationOut,
             responses=RESPONSES)
async def certify(app_id: str, body: DecisionIn, request: Request, runtime: RuntimeDep,
                  client: CertifierClient) -> Any:
    return await _answer(runtime, request, client, lambda svc: svc.decide(
        app_id, "certify", body.decision == "approve", body.reason, actor(runtime, client)))


@router.post("/v1/applications/{app_id}/hand-over", response_model=ApplicationOut,
             responses=RESPONSES)
async def hand_over(app_id: str, body: HandOverIn, request: Request, runtime: RuntimeDep,
                    client: OperatorClient) -> Any:
    """With ``reader_id``, the card is read first and checked with the application."""

    async def compute() -> dict[str, Any]:
        card = None
        if body.reader_id is not None:
            card = await runtime.on_card(  # with EF.PHOTO: checked against the signed hash
                body.reader_id, "read", lambda conn: runtime.engine.read(conn, photo=True),
                write=False)
        svc = applications(runtime)
        return await asyncio.to_thread(lambda: svc.view(svc.hand_over(
            app_id, body.card_serial, actor(runtime, client), card=card)))

    return await idempotent(request, runtime, client, compute)


@router.post("/v1/applications/{app_id}/cancel", response_model=ApplicationOut,
             responses=RESPONSES)
async def cancel(app_id: str, body: CancelIn, request: Request, runtime: RuntimeDep,
                 client: OperatorClient) -> Any:
    return await _answer(runtime, request, client, lambda svc: svc.cancel(
        app_id, body.reason, actor(runtime, client)))


@router.get("/v1/applications/{app_id}/receipt.pdf", responses={
    200: {"content": {"application/pdf": {}}, "description": "the holder's receipt (A5)"},
    **RESPONSES,
    503: {"model": ErrorBody, "description": "FACE_UNAVAILABLE: the card face's layout or "
                                             "fonts, which the receipt's text is drawn with"}})
async def receipt(app_id: str, runtime: RuntimeDep, client: ReaderClient) -> Response:
    service = applications(runtime)
    app = await asyncio.to_thread(service.get, app_id)
    pdf = await asyncio.to_thread(render_receipt, app, face=service.face)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{app.id}.pdf"'})
