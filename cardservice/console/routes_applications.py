"""Applications in the console: the intake form (operator), the audit queue (operator), the
certification queue (certifier), hand-over of a produced card read in a reader (operator), the
overdue list and the holder's receipt. Every step goes through the same workflow layer and the
same request models as the API, and names the clerk as the actor."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import Response

from card_layout.errors import FieldError
from card_layout.photo import decode_photo_base64, validate_photo
from cardservice import errors
from cardservice.api.application_models import ApplicationIn, CancelIn, DecisionIn
from cardservice.api.routes.applications import applications, draft
from cardservice.console.accounts import Clerk
from cardservice.console.web import (
    PREFIX,
    clerk_of,
    console_of,
    posted_form,
    posted_upload,
    redirect,
    render,
    translator,
)
from cardservice.roles import Role
from cardservice.transport.readers import reader_id
from cardservice.workflow.model import TRANSITIONS, State
from cardservice.workflow.receipt import render_receipt
from cardservice.workflow.service import Actor, ApplicationService

logger = logging.getLogger(__name__)

router = APIRouter(prefix=f"{PREFIX}/applications", include_in_schema=False)

IDENTITY = ("name", "gender", "nationality", "citizen_number", "household_address")
RESIDENCE = ("current_residence", "permit_type", "basis")
FORM_FIELDS = ("kind", *IDENTITY, *RESIDENCE, "evidence_kind", "evidence_reference",
               "sponsor_citizen_number", "relationship", "replacement_serial",
               "replacement_reason", "photo_kept")
#: states an application can be cancelled in (the workflow's ``cancel`` transition)
CANCELLABLE = frozenset(s.value for s in TRANSITIONS["cancel"])
#: queue name -> (status listed, role that decides it, decision route)
QUEUES = {"audit": (State.SUBMITTED, Role.OPERATOR),
          "certify": (State.AUDITED, Role.CERTIFIER),
          "hand_over": (State.PRODUCED, Role.OPERATOR)}


def _service(request: Request) -> ApplicationService:
    return applications(console_of(request).runtime)


def _actor(request: Request, clerk: Clerk) -> Actor:
    return Actor(clerk.actor, console_of(request).runtime.service.site_id)


def _blank(form: dict[str, str], key: str) -> str | None:
    value = form.get(key, "").strip()
    return value or None


def application_body(form: dict[str, str], photo: str | None = None) -> dict[str, Any]:
    """The API's JSON body of ``POST /v1/applications`` from the intake form (``photo``: base64
    of the JPEG, as the API takes it)."""
    body: dict[str, Any] = {
        "kind": form.get("kind") or "first_issue",
        "identity": {k: form.get(k, "").strip() for k in IDENTITY} | (
            {"photo": photo} if photo else {}),
        "residence": {"current_residence": form.get("current_residence", ""),
                      "permit_type": form.get("permit_type", ""),
                      "basis": _blank(form, "basis")}}
    if _blank(form, "evidence_kind") or _blank(form, "evidence_reference"):
        body["evidence"] = {"kind": form.get("evidence_kind", "").strip(),
                            "reference": form.get("evidence_reference", "").strip()}
    if body["kind"] == "family":
        body["sponsor"] = {"citizen_number": form.get("sponsor_citizen_number", "").strip(),
                           "relationship": form.get("relationship", "")}
    if body["kind"] == "replacement":
        body["replacement"] = {"card_serial": form.get("replacement_serial", "").strip(),
                               "reason": form.get("replacement_reason", "")}
    return body


#: an error's field path in the API body -> the intake form's input
_FORM_NAME = {"evidence.kind": "evidence_kind", "evidence.reference": "evidence_reference",
              "sponsor.citizen_number": "sponsor_citizen_number",
              "sponsor.relationship": "relationship",
              "replacement.card_serial": "replacement_serial",
              "replacement.reason": "replacement_reason"}


def form_field(path: str) -> str:
    if path in _FORM_NAME:
        return _FORM_NAME[path]
    return path.split(".")[-1] if path.split(".")[0] in ("identity", "residence") else path


def parse_application(form: dict[str, str], photo: str | None = None) -> ApplicationIn:
    try:
        return ApplicationIn.model_validate(application_body(form, photo))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "body"
        raise errors.ValidationError(form_field(path), first["msg"], first["type"]) from None


def checked_photo(form: dict[str, str], files: dict[str, bytes]) -> str | None:
    """Base64 of the photo chosen now (or kept from the last try), checked as the API checks
    ``identity.photo`` (card_layout.photo: the same reasons); None without one."""
    if "photo" in files:
        b64 = base64.b64encode(files["photo"]).decode("ascii")
    else:
        b64 = _blank(form, "photo_kept")
    if b64 is None:
        return None
    try:
        validate_photo(decode_photo_base64(b64, "identity.photo"), "identity.photo")
    except FieldError as exc:
        raise errors.ValidationError("identity.photo", exc.message, exc.reason) from None
    return b64


def _intake_page(request: Request, clerk: Clerk, form: dict[str, str],
                 exc: errors.CardServiceError | None = None, photo: str | None = None
                 ) -> Response:
    t = translator(request)
    field, message = t.describe(exc) if exc else (None, None)
    if isinstance(exc, errors.ValidationError):  # labelled as the form's input, not the path
        field = form_field(exc.field)
        message = t.field_message(field, exc.reason, exc.message)
    values = {k: form.get(k, "") for k in FORM_FIELDS}
    values["photo_kept"] = photo or ""  # a checked photo is shown back and sent again
    values["kind"] = values["kind"] or "first_issue"
    status = 200
    if exc is not None:
        from cardservice.api.errors import status_for

        status = status_for(exc.code)
    return render(request, "application_form.html", clerk=clerk, status=status, values=values,
                  field_errors={field: message} if field else {},
                  error=None if field else message, back=f"{PREFIX}/applications/new")


@router.get("/new")
async def intake_form(request: Request) -> Response:
    clerk = await clerk_of(request, Role.OPERATOR)
    return _intake_page(request, clerk, {})


@router.post("/new")
async def intake_submit(request: Request) -> Response:
    clerk, form, files = await posted_upload(request, Role.OPERATOR)
    svc = _service(request)
    photo = None
    try:
        photo = checked_photo(form, files)
        app = draft(parse_application(form, photo))
        saved = await asyncio.to_thread(svc.submit, app, _actor(request, clerk))
    except errors.CardServiceError as exc:
        return _intake_page(request, clerk, form, exc, photo)
    return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, saved), submitted=True)


# --- lists -------------------------------------------------------------------------------


@router.get("")
async def queue(request: Request) -> Response:
    """``?queue=audit|certify|hand_over`` (the clerk's own by default), ``?overdue=1``, or
    ``?status=``."""
    clerk = await clerk_of(request)
    params = request.query_params
    svc = _service(request)
    overdue = params.get("overdue") == "1"
    name = params.get("queue") or ("" if overdue or params.get("status") else
                                   "certify" if clerk.role is Role.CERTIFIER else "audit")
    if name and name not in QUEUES:
        raise errors.ValidationError("queue", f"unknown queue {name!r}", "choice")
    status = QUEUES[name][0].value if name else params.get("status") or None
    apps = await asyncio.to_thread(lambda: svc.views(svc.find(status=status, overdue=overdue)))
    return render(request, "applications.html", clerk=clerk, queue=name, overdue=overdue,
                  listed=status, apps=apps,
                  back=str(request.url.path) + (f"?{request.url.query}" if request.url.query
                                                else ""))


@router.get("/{app_id}")
async def detail(app_id: str, request: Request) -> Response:
    clerk = await clerk_of(request)
    svc = _service(request)
    app = await asyncio.to_thread(svc.get, app_id)
    return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, app))


async def _readers(request: Request) -> list[tuple[str, str]]:
    try:
        infos = await console_of(request).runtime.readers()
    except errors.CardServiceError:
        return []
    return [(reader_id(i.name), i.name)
            for i in sorted(infos, key=lambda i: i.name) if i.card_present]


async def _detail_page(request: Request, clerk: Clerk, app: dict[str, Any],
                       exc: errors.CardServiceError | None = None, *, submitted: bool = False,
                       handed_over: bool = False, cancelled: bool = False, rid: str = "",
                       message: str | None = None) -> Response:
    """``message``: instead of the error's own text; ``rid``: the reader chosen last."""
    field, described = translator(request).describe(exc) if exc else (None, None)
    message = message or described
    status = 200
    if exc is not None:
        from cardservice.api.errors import status_for

        status = status_for(exc.code)
    readers = await _readers(request) if app["status"] == "produced" else []
    return render(request, "application.html", clerk=clerk, app=app, submitted=submitted,
                  handed_over=handed_over, cancelled=cancelled, readers=readers,
                  status=status, cancellable=app["status"] in CANCELLABLE, rid=rid,
                  error=None if field else message,
                  field_errors={field: message} if field else {},
                  back=f"{PREFIX}/applications/{app['id']}")


@router.get("/{app_id}/receipt.pdf")
async def receipt(app_id: str, request: Request) -> Response:
    await clerk_of(request)
    service = _service(request)
    app = await asyncio.to_thread(service.get, app_id)
    pdf = await asyncio.to_thread(render_receipt, app, face=service.face)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{app.id}.pdf"',
        "Cache-Control": "no-store"})


@router.get("/{app_id}/photo.jpg")
async def photo(app_id: str, request: Request) -> Response:
    """The holder's photo taken at intake (to be written to the chip at production)."""
    await clerk_of(request)
    app = await asyncio.to_thread(_service(request).get, app_id)
    if app.photo is None:
        raise errors.NotFoundError(f"application {app_id} has no photo")
    return Response(base64.b64decode(app.photo), media_type="image/jpeg",
                    headers={"Cache-Control": "no-store"})


# --- decisions ---------------------------------------------------------------------------


async def _decide(request: Request, app_id: str, stage: str, role: Role) -> Response:
    clerk, form = await posted_form(request, role)
    svc = _service(request)
    try:
        body = DecisionIn.model_validate({"decision": form.get("decision", ""),
                                          "reason": _blank(form, "reason")})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise errors.ValidationError(str(first["loc"][0]), first["msg"],
                                     first["type"]) from None
    try:
        await asyncio.to_thread(svc.decide, app_id, stage, body.decision == "approve",
                                body.reason, _actor(request, clerk))
    except errors.CardServiceError as exc:
        app = await asyncio.to_thread(svc.get, app_id)
        return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, app), exc)
    return redirect(f"{PREFIX}/applications?queue={stage}&done={app_id}")


@router.post("/{app_id}/audit")
async def audit(app_id: str, request: Request) -> Response:
    return await _decide(request, app_id, "audit", Role.OPERATOR)


@router.post("/{app_id}/certify")
async def certify(app_id: str, request: Request) -> Response:
    return await _decide(request, app_id, "certify", Role.CERTIFIER)


@router.post("/{app_id}/hand-over")
async def hand_over(app_id: str, request: Request) -> Response:
    """Read the card in the chosen reader and hand it over if it is the produced one."""
    clerk, form = await posted_form(request, Role.OPERATOR)
    svc = _service(request)
    rid, serial = form.get("rid", ""), None
    try:
        if not rid:
            raise errors.ValidationError("rid", "choose the reader with the card", "empty")
        runtime = console_of(request).runtime
        card = await runtime.on_card(  # with EF.PHOTO: checked against the signed hash
            rid, "read", lambda conn: runtime.engine.read(conn, photo=True), write=False)
        serial = card.serial.hex()
        saved = await asyncio.to_thread(lambda: svc.hand_over(
            app_id, serial, _actor(request, clerk), card=card))
    except errors.CardServiceError as exc:
        app = await asyncio.to_thread(svc.get, app_id)
        wrong = (translator(request)("apps.wrong_card", serial=serial)
                 if isinstance(exc, errors.CardChangedError) and serial else None)
        return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, app), exc, rid=rid,
                                  message=wrong)
    return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, saved), handed_over=True)


@router.get("/{app_id}/cancel")
async def cancel_form(app_id: str, request: Request) -> Response:
    """The confirmation before an application is cancelled (it cannot be undone)."""
    clerk = await clerk_of(request, Role.OPERATOR)
    svc = _service(request)
    app = await asyncio.to_thread(svc.get, app_id)
    return render(request, "application_cancel.html", clerk=clerk, app=await asyncio.to_thread(svc.view, app),
                  field_errors={}, reason="", back=f"{PREFIX}/applications/{app_id}/cancel")


@router.post("/{app_id}/cancel")
async def cancel(app_id: str, request: Request) -> Response:
    clerk, form = await posted_form(request, Role.OPERATOR)
    svc = _service(request)
    try:
        body = CancelIn.model_validate({"reason": _blank(form, "reason")})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise errors.ValidationError(str(first["loc"][0]), first["msg"],
                                     first["type"]) from None
    try:
        saved = await asyncio.to_thread(svc.cancel, app_id, body.reason, _actor(request, clerk))
    except errors.CardServiceError as exc:
        app = await asyncio.to_thread(svc.get, app_id)
        return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, app), exc)
    return await _detail_page(request, clerk, await asyncio.to_thread(svc.view, saved), cancelled=True)
