"""Applying ``Idempotency-Key`` to a write route: replay the stored response for a repeated key,
refuse a reused key with another body (compared as parsed JSON: key order and whitespace do not
matter), store the first successful response. A request that arrives while the first with its
key still runs waits for it and then replays its answer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from cardservice.api.runtime import Runtime
from cardservice.store.idempotency import StoredResponse, body_hash, check_key
from cardservice.store.tokens import TokenInfo

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


async def idempotent(request: Request, runtime: Runtime, client: TokenInfo,
                     compute: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    key = request.headers.get(HEADER)
    if key is None:
        return await compute()
    check_key(key)
    scope = f"{client.id} {request.method} {request.url.path}"
    digest = body_hash(canonical(await request.body()))
    store = runtime.idempotency
    async with runtime.key_locks.hold((scope, key)):
        stored = await asyncio.to_thread(store.lookup, scope, key, digest)
        if stored is not None:
            logger.info("replaying the response stored for Idempotency-Key %r", key)
            return JSONResponse(stored.body, status_code=stored.status,
                                headers={REPLAYED: "true"})
        body = await compute()
        await asyncio.to_thread(store.store, scope, key, digest, StoredResponse(200, body),
                                runtime.clock())
        return body


async def request_id(request: Request, client: TokenInfo) -> str | None:
    """The engine's name for a keyed card write (``PermitRequest.request_id``): the key scoped
    as its stored answer is, with the body's hash, hashed. A retry whose first attempt wrote the
    card but whose answer was not stored (the registry went away after the write) then writes
    nothing again; the same key with another body is another request (and the stored answer,
    once there, refuses it as IDEMPOTENCY_KEY_REUSED)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    scope = f"{client.id} {request.method} {request.url.path}"
    digest = body_hash(canonical(await request.body()))
    return hashlib.sha256(f"{scope}\n{key}\n{digest}".encode()).hexdigest()[:32]


def canonical(raw: bytes) -> bytes:
    """The body as parsed JSON, serialised one way (sorted keys, no spaces)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
