"""The daemon's hot path, ``GET /v1/readers/{id}/card`` (optionally ``?photo=true|false``),
answered without FastAPI's routing and dependency solving: on this request FastAPI spent about
0.3 ms more than on ``GET /v1/health`` before the card was touched (route matching, solving four
dependencies anew on every request, validating parameters).

The lane runs inside the local guard (Host, Origin, size limits and the request log apply as to
any request) and applies the route's own checks in the route's order: the bearer token (401
UNAUTHENTICATED, ``WWW-Authenticate: Bearer``), the role (403), then the read itself through
:func:`cardservice.api.routes.readers.read_response`, whose errors become the same error bodies
(cardservice/api/errors.py). Any other form of the request (another query string, HEAD, a
trailing slash) goes on to the FastAPI route, which also documents the operation (OpenAPI)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cardservice import errors
from cardservice.api.errors import error_response
from cardservice.api.routes.readers import read_response
from cardservice.api.runtime import Runtime
from cardservice.api.security import authenticate, bearer_secret, require_role
from cardservice.roles import Role

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

#: The path Starlette matches for the route ("{rid}": one non-empty segment).
CARD_PATH = re.compile(r"/v1/readers/(?P<rid>[^/]+)/card")
#: Query strings the lane answers, and the ``photo`` value each means; others go to FastAPI.
QUERIES = {b"": False, b"photo=false": False, b"photo=true": True,
           b"photo=0": False, b"photo=1": True}


class CardReadLane:
    """ASGI middleware (inside :class:`cardservice.api.security.LocalGuard`)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = CARD_PATH.fullmatch(scope["path"])
            photo = QUERIES.get(scope.get("query_string", b""))
            if match is not None and photo is not None:
                response = await self._answer(scope, match["rid"], photo)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, rid: str, photo: bool):
        try:
            info = authenticate(self.runtime.tokens, bearer_secret(_authorization(scope)))
            require_role(info, Role.READER)
            return await read_response(self.runtime, rid, photo)
        except errors.CardServiceError as exc:
            return error_response(exc)


def _authorization(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            return value.decode("latin-1")
    return None
