"""The card's printed face: ``GET /v1/readers/{id}/card/face.png`` and ``.pdf``,
``POST /v1/readers/{id}/card/print``, and the reprint that follows a card write."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cardservice import errors
from cardservice.api.deps import OperatorClient, ReaderClient, RuntimeDep
from cardservice.api.idempotent import idempotent
from cardservice.api.models import ErrorBody, PrintIn, PrintOut
from cardservice.api.routes.readers import CARD_IO_RESPONSES
from cardservice.api.runtime import Runtime
from cardservice.engine.views import card_dict
from cardservice.face import sides_of
from cardservice.face.printing import (
    PROBLEMS_HEADER,
    SIDES_AFTER,
    Shown,
    check_card,
    print_card,
    show,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/readers", tags=["face"])

FACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **CARD_IO_RESPONSES,
    409: {"model": ErrorBody, "description": "blank, invalid or revoked card; reader busy"},
}
PRINT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **FACE_RESPONSES,
    422: {"model": ErrorBody, "description": "no printer configured (field printer)"},
    502: {"model": ErrorBody, "description": "PRINT_FAILED (retriable) or a card error"},
}


async def _card(runtime: Runtime, rid: str) -> dict[str, Any]:
    """The card as read and verified, with its photo (EF.PHOTO, checked against the signed hash)."""
    return card_dict(await runtime.on_card(rid, "read",
                                           lambda conn: runtime.engine.read(conn, photo=True),
                                           write=False))


async def _face(runtime: Runtime, rid: str, side: str, fmt: str) -> Shown:
    card = await _card(runtime, rid)
    check_card(card, printing=False)
    return await asyncio.to_thread(show, runtime.engine.face, card, side, fmt)


def face_response(shown: Shown, media_type: str, headers: dict[str, str] | None = None) -> Response:
    """The drawn face, with :data:`PROBLEMS_HEADER` when this site cannot print all of it."""
    headers = dict(headers or {})
    if shown.header:
        headers[PROBLEMS_HEADER] = shown.header
    return Response(shown.data, media_type=media_type, headers=headers)


PROBLEMS_DOC = {PROBLEMS_HEADER: {
    "description": "only when this site's face layout cannot print a field as the card holds it "
                   "(a card written under another layout): comma-separated FIELD=REASON, "
                   "FIELD identity.<field> or residence.<field>, REASON no_glyph (drawn as a "
                   "missing-glyph box) or does_not_fit (cut short with an ellipsis); printing "
                   "such a card is refused with VALIDATION_ERROR",
    "schema": {"type": "string"}}}


@router.get("/{rid}/card/face.png", responses={
    **FACE_RESPONSES, 200: {"content": {"image/png": {}}, "description": "300 dpi, 1011 x 638",
                            "headers": PROBLEMS_DOC}})
async def face_png(rid: str, runtime: RuntimeDep, _client: ReaderClient,
                   side: Literal["front", "back"] = Query("front")) -> Response:
    return face_response(await _face(runtime, rid, side, "png"), "image/png")


@router.get("/{rid}/card/face.pdf", responses={
    **FACE_RESPONSES, 200: {"content": {"application/pdf": {}},
                            "description": "one page per side, 85.60 x 53.98 mm",
                            "headers": PROBLEMS_DOC}})
async def face_pdf(rid: str, runtime: RuntimeDep, _client: ReaderClient,
                   side: Literal["front", "back", "both"] = Query("both")) -> Response:
    return face_response(await _face(runtime, rid, side, "pdf"), "application/pdf")


@router.post("/{rid}/card/print", response_model=PrintOut, responses=PRINT_RESPONSES)
async def print_face(rid: str, body: PrintIn, request: Request, runtime: RuntimeDep,
                     _client: OperatorClient) -> Any:
    """Print the card's face as it reads now (repeats a failed print; the chip is not touched)."""

    async def compute() -> dict[str, Any]:
        card = await _card(runtime, rid)
        if body.card_serial and card["card_serial"] != body.card_serial.lower():
            raise errors.CardChangedError(f"the card in the reader is {card['card_serial']}, "
                                          f"not {body.card_serial.lower()}; nothing printed")
        job = await asyncio.to_thread(print_card, runtime.engine.face, card, body.side,
                                      runtime.settings.printer)
        return job.to_dict()

    return await idempotent(request, runtime, _client, compute)


async def print_after_write(runtime: Runtime, card: dict[str, Any], operation: str, *,
                            photo: bytes | None = None) -> dict[str, Any] | None:
    """With a printer configured: print what ``operation`` changed (both sides after an issue,
    the back after a re-sign or renewal). The write already succeeded, so a failure is reported
    in the answer (``print.status = failed``), not raised."""
    queue = runtime.settings.printer
    if not queue:
        return None
    side = SIDES_AFTER[operation]
    try:
        job = await asyncio.to_thread(lambda: print_card(runtime.engine.face, card, side, queue,
                                                         photo=photo))
    except errors.CardServiceError as exc:
        logger.warning("card %s: printing the %s after %s failed: %s", card["card_serial"], side,
                       operation, exc.message)
        return {"status": "failed", "card_serial": card["card_serial"], "queue": queue,
                "sides": list(sides_of(side)), "job": None, "error": exc.to_dict()}
    return job.to_dict()
