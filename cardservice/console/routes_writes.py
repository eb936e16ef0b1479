"""Re-sign after a move, renew and revoke: a form, a confirmation that shows old -> new, and the
result with the card's new verdict. Field and rule errors come from the same validation and the
same error codes as the API's, described in the clerk's language; the confirmation is decided by
the same terms rules as the write (basis evidence included), so what it shows is what is written
and a write that would be refused is refused before it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pydantic
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from card_layout.budgets import normalize_text
from card_layout.errors import FieldError
from cardservice import errors
from cardservice.api.models import RenewIn, ResignIn, RevokeIn
from cardservice.api.routes.cards import _checked
from cardservice.console.accounts import Clerk
from cardservice.console.routes_cards import read_card, read_view
from cardservice.console.web import (
    PREFIX,
    clerk_of,
    console_of,
    posted_form,
    render,
    translator,
)
from cardservice.engine.model import CardView
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence
from cardservice.engine.terms import TermsRules, writable_record
from cardservice.engine.views import card_dict, registry_dict
from cardservice.roles import Role

logger = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

MODELS: dict[str, type[pydantic.BaseModel]] = {"resign": ResignIn, "renew": RenewIn}
EVIDENCE = ("evidence_kind", "evidence_reference")
FIELDS = {"resign": ("current_residence", "permit_type", "basis", "expires_on", "extend",
                     "card_serial", *EVIDENCE),
          "renew": ("permit_type", "basis", "expires_on", "card_serial", *EVIDENCE)}


def parse_permit(operation: str, form: dict[str, str]) -> pydantic.BaseModel:
    """The API's request model from the form (blank -> not given); ValidationError names the
    first bad field like the API does."""
    data = {k: form[k].strip() for k in FIELDS[operation]
            if k not in EVIDENCE and form.get(k, "").strip()}
    if operation == "resign":  # required: blank is the engine's "empty", not "missing"
        data["current_residence"] = form.get("current_residence", "")
    evidence = _evidence(form)
    if evidence is not None:
        data["evidence"] = evidence
    try:
        body = MODELS[operation].model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        field = field.replace(".", "_") if field.startswith("evidence.") else field  # the input
        raise errors.ValidationError(field, first["msg"], first["type"]) from None
    if operation == "resign":
        try:
            body.current_residence = normalize_text("current_residence",
                                                    form.get("current_residence", ""))
        except FieldError as exc:
            raise errors.ValidationError(exc.field, exc.message, exc.reason) from None
    return body


def _evidence(form: dict[str, str]) -> dict[str, str] | None:
    """The evidence of the form (none: both blank); half of it names the blank field."""
    kind, reference = (form.get(k, "").strip() for k in EVIDENCE)
    if not kind and not reference:
        return None
    if not kind:
        raise errors.ValidationError("evidence_kind", "choose the kind of evidence", "choice")
    if not reference:
        raise errors.ValidationError("evidence_reference", "is required", "empty")
    return {"kind": kind, "reference": reference}


def _permit(body: pydantic.BaseModel) -> PermitRequest:
    evidence = getattr(body, "evidence", None)
    return PermitRequest(current_residence=getattr(body, "current_residence", None),
                         permit_type=body.permit_type, basis=body.basis,
                         expires_on=body.expires_on, extend=getattr(body, "extend", False),
                         evidence=Evidence(evidence.kind, evidence.reference)
                         if evidence else None)


async def preview(request: Request, operation: str, view: CardView,
                  body: pydantic.BaseModel) -> dict[str, Any]:
    """The record the write will produce, decided by the write's own terms rules (the engine
    decides again when it writes); a write the rules refuse is refused here."""
    card = card_dict(view)
    if card["residence"] is not None and body.card_serial \
            and body.card_serial.lower() != card["card_serial"]:
        raise errors.CardChangedError("another card is in the reader now")
    current = writable_record(view)
    engine = console_of(request).runtime.engine
    engine.site_area.check(getattr(body, "current_residence", None))  # as the write does
    rules = TermsRules(console_of(request).runtime.registry(), engine.today)
    terms = await asyncio.to_thread(rules.for_rewrite, operation, _permit(body), current,
                                    view.report.identity.citizen_number)
    old = card["residence"]
    return dict(old, current_residence=getattr(body, "current_residence", None)
                or old["current_residence"], sequence=old["sequence"] + 1,
                issuing_authority=engine.keys.authority_name,  # this site signs
                permit_type=terms.permit_type.value, basis=terms.basis,
                sponsor_citizen_number=terms.sponsor_citizen_number,
                issued_on=terms.issued_on.isoformat(), expires_on=terms.expires_on.isoformat())


def _form_page(request: Request, clerk: Clerk, operation: str, rid: str, card: dict[str, Any],
               form: dict[str, str], exc: errors.CardServiceError | None = None) -> Response:
    field, message = translator(request).describe(exc) if exc else (None, None)
    if isinstance(exc, errors.PolicyError) and exc.rule == "basis_evidence_required":
        field = "evidence_kind"  # shown at the evidence it asks for
    values = {k: form.get(k, "") for k in FIELDS[operation]}
    values["card_serial"] = values["card_serial"] or card["card_serial"]
    status = 200 if exc is None else _status(exc)
    return render(request, "permit_form.html", clerk=clerk, status=status, operation=operation,
                  rid=rid, card=card, values=values,
                  field_errors={field: message} if field else {},
                  error=None if field else message, back=f"{PREFIX}/readers/{rid}/{operation}")


def _status(exc: errors.CardServiceError) -> int:
    from cardservice.api.errors import status_for

    return status_for(exc.code)


@router.get("/readers/{rid}/{operation}")
async def permit_form(rid: str, operation: str, request: Request) -> Response:
    _known(operation)
    clerk = await clerk_of(request, Role.OPERATOR)
    card = await read_card(request, rid)
    return _form_page(request, clerk, operation, rid, card, {})


@router.post("/readers/{rid}/{operation}")
async def permit_confirm(rid: str, operation: str, request: Request) -> Response:
    _known(operation)
    clerk, form = await posted_form(request, Role.OPERATOR)
    view = await read_view(request, rid)
    card = card_dict(view)
    try:
        body = parse_permit(operation, form)
        new = await preview(request, operation, view, body)
    except errors.CardServiceError as exc:
        return _form_page(request, clerk, operation, rid, card, form, exc)
    values = {k: form.get(k, "") for k in FIELDS[operation]}
    return render(request, "confirm.html", clerk=clerk, operation=operation, rid=rid,
                  card=card, old=card["residence"], new=new, values=values)


@router.post("/readers/{rid}/{operation}/confirm")
async def permit_write(rid: str, operation: str, request: Request) -> Response:
    _known(operation)
    clerk, form = await posted_form(request, Role.OPERATOR)
    runtime = console_of(request).runtime
    try:
        body = parse_permit(operation, form)
        serial = bytes.fromhex(body.card_serial) if body.card_serial else None
        call = getattr(runtime.engine, operation)
        before = await read_card(request, rid)
        view = await runtime.write(rid, operation, lambda conn: call(
            conn, _permit(body), actor=clerk.actor, expected_serial=serial))
    except errors.CardServiceError as exc:
        card = await read_card(request, rid)
        return _form_page(request, clerk, operation, rid, card, form, exc)
    return render(request, "done.html", clerk=clerk, operation=operation, rid=rid,
                  old=before["residence"], card=card_dict(view))


def _known(operation: str) -> None:
    if operation not in MODELS:
        raise HTTPException(404, f"no console page for {operation!r}")


# --- revoke (admin) ---------------------------------------------------------------------


async def _registry_row(request: Request, serial: str) -> dict[str, Any]:
    row = await asyncio.to_thread(console_of(request).runtime.registry().get, _checked(serial))
    if row is None:
        raise errors.NotFoundError(f"card {serial} is not in the registry")
    return registry_dict(row)


@router.get("/cards/{serial}/revoke")
async def revoke_form(serial: str, request: Request) -> Response:
    clerk = await clerk_of(request, Role.ADMIN)
    row = await _registry_row(request, serial)
    return render(request, "revoke.html", clerk=clerk, row=row, step="form", reason="",
                  field_errors={}, rid=request.query_params.get("rid", ""))


@router.post("/cards/{serial}/revoke")
async def revoke_confirm(serial: str, request: Request) -> Response:
    clerk, form = await posted_form(request, Role.ADMIN)
    row = await _registry_row(request, serial)
    step, field_errors = "confirm", {}
    try:
        RevokeIn.model_validate({"reason": form.get("reason", "")})
    except pydantic.ValidationError:
        step = "form"
        field_errors = {"reason": translator(request).field_message("reason", "choice", "")}
    return render(request, "revoke.html", clerk=clerk, row=row, step=step,
                  reason=form.get("reason", ""), field_errors=field_errors,
                  rid=form.get("rid", ""), status=200 if step == "confirm" else 422)


@router.post("/cards/{serial}/revoke/confirm")
async def revoke_write(serial: str, request: Request) -> Response:
    clerk, form = await posted_form(request, Role.ADMIN)
    try:
        body = RevokeIn.model_validate({"reason": form.get("reason", "")})
    except pydantic.ValidationError:
        raise errors.ValidationError("reason", "must be lost, replaced or withdrawn",
                                     "choice") from None
    engine = console_of(request).runtime.engine
    row = await asyncio.to_thread(engine.revoke, _checked(serial), body.reason,
                                  actor=clerk.actor)
    return render(request, "revoke.html", clerk=clerk, row=registry_dict(row), step="done",
                  reason=body.reason, field_errors={}, rid=form.get("rid", ""))
