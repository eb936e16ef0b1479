"""Local-only guards: the ``Host`` must name this daemon on loopback (DNS rebinding), a browser
``Origin`` must be on the allow-list, request bodies must be JSON (no cross-site "simple"
requests); bearer tokens carry a role. All run before any card I/O."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cardservice import errors
from cardservice.api.errors import (
    ForbiddenError,
    HostNotAllowedError,
    OriginNotAllowedError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    error_response,
)
from cardservice.config import Settings

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: The console's HTML forms post this type; its routes check a CSRF token on every form.
FORM_TYPE = "application/x-www-form-urlencoded"
FORM_PATHS = ("/console/",)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def check_request(scope: Scope, settings: Settings) -> None:
    """Raise the error that refuses this request, or return if it may go on."""
    host = _header(scope, b"host")
    if host is None or host.lower() not in settings.allowed_hosts:
        raise HostNotAllowedError(f"Host {host!r} is not this daemon's loopback address")
    origin = _header(scope, b"origin")
    if origin is not None and not _origin_allowed(origin.rstrip("/"), host, settings):
        raise OriginNotAllowedError(f"Origin {origin!r} is not allowed")
    if scope["type"] == "http" and scope["method"] in BODY_METHODS:
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json" and not (
                ctype == FORM_TYPE and scope.get("path", "").startswith(FORM_PATHS)):
            raise UnsupportedMediaTypeError(
                f"Content-Type {ctype or 'none'!r} is not accepted; send application/json"
            )


def _origin_allowed(origin: str, host: str, settings: Settings) -> bool:
    """On the allow-list, or this daemon's own origin (its console and /docs pages; ``host``
    has been checked to name this daemon on loopback)."""
    return origin in settings.allowed_origins or origin == f"http://{host.lower()}"


class LocalGuard:
    """ASGI middleware: applies :func:`check_request` to HTTP and WebSocket requests and writes
    one log line per HTTP request (method, path, status, ms)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

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
        except errors.CardServiceError as exc:
            await self._refuse(scope, receive, send_logged, exc)
        else:
            await self.app(scope, receive, send_logged)
        finally:
            _log_request(scope, status["code"], started)

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


def _log_request(scope: Scope, status: int, started: float) -> None:
    ms = round((time.monotonic() - started) * 1000, 1)
    method = scope.get("method", "WS")
    path = scope.get("path", "")
    client = scope.get("client")
    logger.info("%s %s %s %.1f ms", method, path, status or "-", ms,
                extra={"method": method, "path": path, "status": status, "ms": ms,
                       "client": f"{client[0]}" if client else "uds"})


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
