"""The daemon of a verify-only installation (``CARDSERVICE_MODE=verify``) answers only what
reads and verifies a card (the API's reads, and the console's log-in, readers and card pages);
every other route, every write and every application route, present or added later, gets 403
FORBIDDEN before it runs (an allow-list, not a deny-list)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from cardservice import errors
from cardservice.api.errors import error_response

#: the console page a refused console request gets instead (in the clerk's language)
CONSOLE_REFUSED = "/console/verify-only"

#: (method, path pattern) a verify-only daemon serves.
ALLOWED = (
    ("GET", re.compile(r"/v1/health")),
    ("GET", re.compile(r"/v1/readers")),
    ("GET", re.compile(r"/v1/readers/[^/]+/card")),
    ("WEBSOCKET", re.compile(r"/v1/events")),
    ("GET", re.compile(r"/openapi\.json|/docs(/assets/.+)?|/redoc")),  # /docs is served locally
    # the console's read-only pages: log-in, readers, a card and its verdict (no write forms,
    # no registry, audit or application pages)
    ("GET", re.compile(r"/console(/login|/lang/[^/]+|/static/[^/]+|/readers(/[^/]+(/verdict)?)?)?")),
    ("POST", re.compile(r"/console/log(in|out)")),
)


def allowed(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path.rstrip("/") or "/")
               for m, pattern in ALLOWED)


class VerifyOnlyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = "WEBSOCKET" if scope["type"] == "websocket" else scope["method"]
        if method == "HEAD":
            method = "GET"
        if allowed(method, scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["path"] == "/console" or scope["path"].startswith("/console/"):
            # a clerk gets a page (403) rather than JSON; the refused route never runs
            page = {**scope, "method": "GET", "path": CONSOLE_REFUSED,
                    "raw_path": CONSOLE_REFUSED.encode(), "query_string": b""}
            await self.app(page, receive, send)
            return
        response = error_response(errors.VerifyOnlyError(
            "this installation only reads and verifies cards (CARDSERVICE_MODE=verify)"))
        await response(scope, receive, send)
