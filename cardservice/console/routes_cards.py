"""The readers page (live through ``/v1/events``) and the card page (the card as read, its checks,
the registry's view and its history in the audit log)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cardservice import errors
from cardservice.console.web import PREFIX, clerk_of, console_of, render
from cardservice.engine.model import CardView
from cardservice.engine.views import audit_dict, card_dict
from cardservice.face import LayoutError
from cardservice.roles import Role
from cardservice.transport.readers import reader_id

logger = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

HISTORY_LIMIT = 50
_FACE_LOCKS: dict[str, asyncio.Lock] = {}


async def read_view(request: Request, rid: str) -> CardView:
    runtime = console_of(request).runtime
    return await runtime.on_card(rid, "read", runtime.engine.read, write=False)


async def read_card(request: Request, rid: str) -> dict[str, Any]:
    return card_dict(await read_view(request, rid))


async def card_history(request: Request, serial: str) -> list[dict[str, Any]]:
    audit = console_of(request).runtime.audit()
    rows = await asyncio.to_thread(audit.entries, card_serial=serial, limit=HISTORY_LIMIT)
    return [audit_dict(e) for e in rows if e.kind != "intent"]


@router.get("/readers")
async def readers_page(request: Request) -> Response:
    clerk = await clerk_of(request)
    runtime = console_of(request).runtime
    try:
        infos = await runtime.readers()
        pcsc_error = None
    except errors.CardServiceError as exc:
        infos, pcsc_error = [], exc.code
    readers = [{"id": reader_id(i.name), "name": i.name, "card_present": i.card_present}
               for i in sorted(infos, key=lambda i: i.name)]
    verify_only = runtime.engine.verify_only  # the county's bundle the verdicts come from
    bundle = (await asyncio.to_thread(verify_only.state, runtime.clock())
              if verify_only is not None else None)
    return render(request, "readers.html", clerk=clerk, readers=readers, pcsc_error=pcsc_error,
                  bundle=bundle)


@router.get("/readers/{rid}/verdict")
async def verdict(rid: str, request: Request) -> JSONResponse:
    """The card's verdict for the live readers page (same session and role as the page)."""
    await clerk_of(request)
    try:
        card = await read_card(request, rid)
    except errors.CardServiceError as exc:
        return JSONResponse({"code": exc.code}, status_code=409,
                            headers={"Cache-Control": "no-store"})
    identity = card["identity"] or {}
    return JSONResponse({"card_serial": card["card_serial"], "state": card["state"],
                         "status": card["verification"]["status"],
                         "name": identity.get("name")}, headers={"Cache-Control": "no-store"})


@router.get("/readers/{rid}")
async def card_page(rid: str, request: Request) -> Response:
    clerk = await clerk_of(request)
    card = await read_card(request, rid)
    if console_of(request).verify_only:  # the card as read and its verdict, nothing more
        return render(request, "card.html", clerk=clerk, rid=rid, card=card, history=None,
                      face=None)
    # the card's own history for clerks who write; the whole log stays admin-only
    history = (await card_history(request, card["card_serial"])
               if clerk.role is not Role.READER else None)
    return render(request, "card.html", clerk=clerk, rid=rid, card=card, history=history,
                  face=await card_face(request, rid, card))


async def card_face(request: Request, rid: str, card: dict[str, Any]) -> dict[str, Any] | None:
    """Front and back images of the card face (only a personalized card that verifies has one),
    and the fields this site's layout cannot print as the card holds them (shown anyway)."""
    if card["state"] != "personalized" or card["verification"]["status"] not in (
            "valid", "expired"):
        return None
    face = console_of(request).runtime.engine.face
    try:
        problems = await asyncio.to_thread(face.problems, card, "both")
    except LayoutError as exc:  # the images then show FACE_UNAVAILABLE; the page still shows
        logger.warning("card %s: face layout not usable: %s", card["card_serial"], exc)
        problems = []
    return {"front": f"{PREFIX}/readers/{rid}/face/front.png",
            "back": f"{PREFIX}/readers/{rid}/face/back.png",
            "problems": [(field.split(".", 1)[1], reason) for field, reason in problems]}


@router.get("/readers/{rid}/face/{side}.png")
async def face_image(rid: str, side: str, request: Request) -> Response:
    """The printed face as the API renders it (GET /v1/readers/{id}/card/face.png)."""
    from cardservice.api.routes.face import _face, face_response

    await clerk_of(request)
    if side not in ("front", "back"):
        raise errors.ValidationError("side", "must be front or back", "choice")
    # the page asks for both sides at once: one face read (with the photo) per reader at a time,
    # so the second waits for the first instead of getting READER_BUSY after the read wait
    async with _FACE_LOCKS.setdefault(rid, asyncio.Lock()):
        shown = await _face(console_of(request).runtime, rid, side, "png")
    return face_response(shown, "image/png", {"Cache-Control": "no-store"})
