"""Local-only guards: the ``Host`` must name this daemon on loopback (DNS rebinding; exactly one
``Host``, and an absolute-form request target must name the same host), a browser ``Origin``
must be this daemon itself (its own ``/docs`` page) or on the allow-list, request bodies must be
JSON (no cross-site "simple" requests), are capped in size and are read only after the bearer
token checks out; bearer tokens carry a role. All run before any card I/O."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from cardservice import errors
from cardservice.api.errors import (
    ForbiddenError,
    HostNotAllowedError,
    OriginNotAllowedError,
    PayloadTooLargeError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    error_response,
)
from cardservice.api.limits import TARGET_HOST
from cardservice.config import Settings
from cardservice.logs import redact_query

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Routes whose body may carry a photo get the larger cap (``max_photo_body_bytes``).
PHOTO_PATH = re.compile(r"/photos?(/|$)")
#: The console's HTML forms post this type; its routes check a CSRF token on every form.
FORM_TYPE = "application/x-www-form-urlencoded"
FORM_PATHS = ("/console/",)
#: Console forms that carry a file (the intake form's photo): multipart bodies, with the photo
#: cap, read only for a live console session (its cookie).
UPLOAD_TYPE = "multipart/form-data"
UPLOAD_PATHS = frozenset({"/console/applications/new"})
SESSION_COOKIE = "cs_session"


#: Routes that take a (bounded) body without a token: an app asking to be paired has none yet.
TOKENLESS_BODIES = frozenset({"/v1/pairing"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]


def _check_host(scope: Scope, settings: Settings) -> str:
    hosts = _headers(scope, b"host")
    if len(hosts) != 1:
        raise HostNotAllowedError(f"{len(hosts)} Host headers; send exactly one")
    host = hosts[0].lower()
    if host not in settings.allowed_hosts:
        raise HostNotAllowedError(f"Host {hosts[0]!r} is not this daemon's loopback address")
    target = scope.get(TARGET_HOST)
    if target is None and not scope.get("path", "/").startswith("/"):
        target = scope["path"]  # a parser that keeps an absolute target in the path
    if target is not None and target.lower() != host:
        raise HostNotAllowedError(f"the request target names another host ({target!r})")
    return host


def same_origin(origin: str, host: str, scope: Scope) -> bool:
    """True for a page this daemon served itself (its ``/docs``): ``Origin`` is its own URL."""
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return origin == f"{scheme}://{host}"


def check_request(scope: Scope, settings: Settings) -> None:
    """Raise the error that refuses this request, or return if it may go on."""
    host = _check_host(scope, settings)
    origin = _header(scope, b"origin")
    if origin is not None:
        origin = origin.rstrip("/")
        if origin not in settings.allowed_origins and not same_origin(origin.lower(), host,
                                                                      scope):
            raise OriginNotAllowedError(f"Origin {origin!r} is not allowed")
    if scope["type"] == "http" and scope["method"] in BODY_METHODS:
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        path = scope.get("path", "")
        if ctype != "application/json" and not (
                ctype == FORM_TYPE and path.startswith(FORM_PATHS)) and not (
                ctype == UPLOAD_TYPE and path in UPLOAD_PATHS):
            raise UnsupportedMediaTypeError(
                f"Content-Type {ctype or 'none'!r} is not accepted; send application/json"
            )


class LocalGuard:
    """ASGI middleware: applies :func:`check_request` to HTTP and WebSocket requests, reads a
    request body only after the bearer token checks out and only up to its cap, and writes one
    log line per HTTP request (method, path, redacted query, status, ms)."""

    def __init__(self, app: ASGIApp, settings: Settings,
                 token_known: Callable[[str], bool] | None = None,
                 session_known: Callable[[str], bool] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.token_known = token_known
        self.session_known = session_known

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 0}

        async def send_logged(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            check_request(scope, self.settings)
            if scope["type"] == "http" and scope["method"] in BODY_METHODS:
                receive = await self._read_body(scope, receive)
        except errors.CardServiceError as exc:
            await self._refuse(scope, receive, send_logged, exc)
        else:
            await self.app(scope, receive, send_logged)
        finally:
            _log_request(scope, status["code"], started)

    def _check_token_first(self, scope: Scope) -> None:
        """API bodies are read only for a known token (a missing or unknown one: 401 now)."""
        path = scope.get("path", "")
        if self.token_known is None or not path.startswith("/v1/") or path in TOKENLESS_BODIES:
            return
        secret = bearer_secret(_header(scope, b"authorization"))
        if secret is None:
            raise UnauthenticatedError("send Authorization: Bearer <token>")
        if not self.token_known(secret):
            raise UnauthenticatedError("the token is unknown or revoked")

    def _check_session_first(self, scope: Scope) -> None:
        """An upload's (large) body is read only for a live console session."""
        if scope.get("path", "") not in UPLOAD_PATHS or self.session_known is None:
            return
        cookies = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookies.load(_header(scope, b"cookie") or "")
        secret = cookies[SESSION_COOKIE].value if SESSION_COOKIE in cookies else ""
        if not secret or not self.session_known(secret):
            raise UnauthenticatedError("log in to the console again")

    def body_limit(self, path: str) -> int:
        if PHOTO_PATH.search(path) or path in UPLOAD_PATHS:
            return self.settings.max_photo_body_bytes
        return self.settings.max_body_bytes

    async def _read_body(self, scope: Scope, receive: Callable) -> Callable:
        """Read the whole body (bounded) and hand the app a receive that replays it."""
        self._check_token_first(scope)
        self._check_session_first(scope)
        limit = self.body_limit(scope.get("path", ""))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(f"the body ({int(declared)} bytes) is over this route's "
                                       f"cap of {limit} bytes")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return _replay(b"", receive, message)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"the body is over this route's cap of {limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return _replay(b"".join(chunks), receive)

    @staticmethod
    async def _refuse(scope: Scope, receive: Callable, send: Callable,
                      exc: errors.CardServiceError) -> None:
        if scope["type"] == "websocket":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008, "reason": exc.code})
                return
            response = error_response(exc)
            await send({"type": "websocket.http.response.start", "status": response.status_code,
                        "headers": response.raw_headers})
            await send({"type": "websocket.http.response.body", "body": response.body})
            return
        await error_response(exc)(scope, receive, send)


def _replay(body: bytes, receive: Callable,
            first: MutableMapping[str, Any] | None = None) -> Callable:
    pending = [first or {"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> MutableMapping[str, Any]:
        return pending.pop() if pending else await receive()

    return replay


def _log_request(scope: Scope, status: int, started: float) -> None:
    """One line per request; the query string's ``token`` is redacted, and the text formatter
    escapes control characters a path may carry (``%0d%0a``)."""
    ms = round((time.monotonic() - started) * 1000, 1)
    method = scope.get("method", "WS")
    path = scope.get("path", "")
    query = redact_query(scope.get("query_string", b"").decode("latin-1"))
    client = scope.get("client")
    logger.info("%s %s%s %s %.1f ms", method, path, f"?{query}" if query else "",
                status or "-", ms,
                extra={"method": method, "path": path, "query": query, "status": status,
                       "ms": ms, "client": f"{client[0]}" if client else "uds"})


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def authenticate(tokens, secret: str | None):
    """The token's info; 401 when missing, unknown or revoked (the store compares hashes in
    constant time)."""
    if secret is None:
        raise UnauthenticatedError("send Authorization: Bearer <token>")
    info = tokens.authenticate(secret)
    if info is None:
        raise UnauthenticatedError("the token is unknown or revoked")
    return info


def require_role(info, required) -> None:
    if not info.role.allows(required):
        raise ForbiddenError(
            f"client {info.name!r} has role {info.role.value}; this needs {required.value}"
        )
