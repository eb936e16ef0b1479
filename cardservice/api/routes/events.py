"""``WebSocket /v1/events``: the live event stream. The token comes in an ``Authorization:
Bearer`` header, or (browsers, which cannot set headers on a WebSocket) as a subprotocol
``bearer.<token>`` offered beside ``cardservice.v1`` in ``Sec-WebSocket-Protocol`` (the server
answers ``cardservice.v1``, never the token); ``?token=`` is a documented fallback (redacted in
the logs). Subscribers are capped per token and in all (429 TOO_MANY_SUBSCRIBERS). The first
message is a ``hello`` with the readers as the monitor sees them, then one JSON message per
event; a subscriber too slow to keep up gets ``events_dropped`` with the count lost."""

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


SUBPROTOCOL = "cardservice.v1"
BEARER_PREFIX = "bearer."


def _offered(websocket: WebSocket) -> list[str]:
    header = ",".join(v for k, v in websocket.headers.items()
                      if k.lower() == "sec-websocket-protocol")
    return [p.strip() for p in header.split(",") if p.strip()]


def _secret(websocket: WebSocket) -> str | None:
    secret = bearer_secret(websocket.headers.get("authorization"))
    for proto in _offered(websocket):
        if secret is None and proto.startswith(BEARER_PREFIX):
            secret = proto[len(BEARER_PREFIX):]
    return secret or websocket.query_params.get("token")


def _client(websocket: WebSocket, runtime: Runtime):
    """The token's client, or else the clerk of a console session cookie (the console's page
    never holds a token; the Origin check has refused other sites' pages)."""
    secret = _secret(websocket)
    console = getattr(websocket.app.state, "console", None)
    if secret is None and console is not None:
        clerk = console.accounts.clerk(websocket.cookies.get("cs_session"))
        if clerk is not None:
            return clerk
    return authenticate(runtime.tokens, secret)


async def _subscribe(websocket: WebSocket, runtime: Runtime) -> Subscription | None:
    """Authenticate and take a subscriber slot, or refuse the handshake."""
    try:
        info = _client(websocket, runtime)
        require_role(info, Role.READER)
        return runtime.bus.subscribe(owner=info.id)
    except errors.CardServiceError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(error_response(exc))
        else:
            await websocket.close(code=1008, reason=exc.code)
        return None


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
    sub = await _subscribe(websocket, runtime)
    if sub is None:
        return
    try:
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in _offered(websocket)
                               else None)
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
            if sub.queue.empty():
                sub.flush_notice(getter.result()["ts"])
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver
