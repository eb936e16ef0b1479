"""``GET /v1/readers`` and ``GET /v1/readers/{id}/card`` (read and verify)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cardservice.api.deps import ReaderClient, RuntimeDep
from cardservice.api.models import Card, ErrorBody, Reader
from cardservice.api.responses import json_response
from cardservice.api.runtime import Runtime
from cardservice.engine.views import card_dict
from cardservice.transport.readers import reader_id

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/readers", tags=["readers"])

#: Errors of any route that talks to PC/SC (documented so that clients and fuzzers know them).
PCSC_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "PC/SC unavailable (pcscd stopped)"},
}
#: Errors of any route that runs card I/O on a reader.
CARD_IO_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PCSC_RESPONSES,
    404: {"model": ErrorBody, "description": "no reader with this id"},
    409: {"model": ErrorBody, "description": "reader busy, no card, card removed or reset"},
    422: {"model": ErrorBody, "description": "not a permit card"},
    502: {"model": ErrorBody, "description": "the card answered with an error"},
    504: {"model": ErrorBody, "description": "the card did not answer in time"},
}


@router.get("", response_model=list[Reader], responses=PCSC_RESPONSES)
async def list_readers(runtime: RuntimeDep, _client: ReaderClient) -> list[dict[str, Any]]:
    return [{"id": reader_id(i.name), "name": i.name, "card_present": i.card_present,
             "atr_hex": i.atr.hex() if i.atr else None} for i in await runtime.readers()]


@router.get("/{rid}/card", response_model=Card, responses=CARD_IO_RESPONSES)
async def read_card(rid: str, runtime: RuntimeDep, _client: ReaderClient,
                    photo: bool = Query(False, description="also read the holder's photo "
                                        "(EF.PHOTO, one more APDU): identity.photo")
                    ) -> Response:
    # the daemon answers the common forms of this request in cardservice/api/cardlane.py, with
    # the same checks, without FastAPI's routing and dependency solving; this route documents
    # the operation and answers every other form (other query strings, HEAD)
    return await read_response(runtime, rid, photo)


async def read_response(runtime: Runtime, rid: str, photo: bool) -> Response:
    """Read and verify the card in reader ``rid`` (the client is authenticated)."""

    def read(conn: Any) -> Any:
        return runtime.engine.read(conn, photo=photo)

    view = await runtime.on_card(rid, "read", read, write=False)
    # the hot path: card_dict builds exactly the Card model's shape (the write routes return it
    # through the model; tests/reliability/test_api_fuzz.py checks every response against the
    # schema), so the read skips FastAPI's second validation pass (about 0.15 ms here), and
    # pydantic's serializer writes the same bytes as json.dumps in a fifth of the time
    return json_response(card_dict(view))
