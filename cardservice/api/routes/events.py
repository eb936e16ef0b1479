"""``WebSocket /v1/events``: the live event stream. The token comes in an ``Authorization:
Bearer`` header or a ``?token=`` query parameter; the first message is a ``hello`` with the
readers as the monitor sees them, then one JSON message per event."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from cardservice import errors
from cardservice.api.errors import error_response
from cardservice.api.runtime import Runtime
from cardservice.api.security import authenticate, bearer_secret, require_role
from cardservice.store.tokens import Role
from cardservice.transport.events import Subscription, reader_fields

logger = logging.getLogger(__name__)

router = APIRouter(tags=["events"])


async def _authorize(websocket: WebSocket, runtime: Runtime) -> bool:
    secret = bearer_secret(websocket.headers.get("authorization"))
    secret = secret or websocket.query_params.get("token")
    try:
        require_role(authenticate(runtime.tokens, secret), Role.READER)
    except errors.CardServiceError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(error_response(exc))
        else:
            await websocket.close(code=1008, reason=exc.code)
        return False
    return True


def _hello(runtime: Runtime) -> dict:
    monitor = runtime.monitor
    readers = [{**reader_fields(i), "card_present": i.card_present,
                "atr_hex": i.atr.hex() if i.atr else None} for i in monitor.snapshot.values()]
    return {"type": "hello", "pcsc_available": monitor.available is True, "readers": readers,
            "ts": runtime.clock().isoformat(), "stream": runtime.bus.stream,
            "seq": runtime.bus.seq}


@router.websocket("/v1/events")
async def events(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not await _authorize(websocket, runtime):
        return
    await websocket.accept()
    sub = runtime.bus.subscribe()
    try:
        await websocket.send_json(_hello(runtime))
        await _pump(websocket, sub)
    except WebSocketDisconnect:
        pass
    finally:
        runtime.bus.unsubscribe(sub)


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    """Send events until the client goes away (client messages are read and ignored)."""
    receiver = asyncio.create_task(websocket.receive())
    try:
        while True:
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                if receiver.result()["type"] == "websocket.disconnect":
                    return
                receiver = asyncio.create_task(websocket.receive())
                continue
            await websocket.send_json(getter.result())
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver
