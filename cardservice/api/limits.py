"""Resource bounds below the application, in uvicorn's HTTP protocol: a cap on open connections
(HTTP and WebSocket together; one over the cap is closed at once, so its file descriptor is
freed), a deadline for the request head (a client that never finishes its headers is cut off)
and one for the body, and the host an absolute-form request target names (``GET http://x/...``),
which the parser would otherwise drop before the Host check sees it. Each connection's kernel
send buffer is fixed (``SEND_BUFFER_BYTES``): with Linux's autotuning a client that stops
reading would have the kernel hold up to 4 MiB of answers or events for it, charged to the
daemon's memory, and a stalled event subscriber would never reach its own queue's bound (where
it loses events and is told so with ``events_dropped``).

Body size and authentication before the body are the ASGI guard's (:mod:`.security`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: The scope key that carries the host of an absolute-form request target.
TARGET_HOST = "cardservice.target_host"
#: SO_SNDBUF of every connection (the kernel doubles it for its bookkeeping).
SEND_BUFFER_BYTES = 16 * 1024

import httptools  # a dependency: uvicorn's C parser (pyproject.toml)
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float
    body_timeout: float


def guarded_protocol(limits: ConnectionLimits) -> type:
    """uvicorn's httptools protocol class with ``limits`` applied (``uvicorn.Config(http=...)``)."""
    return type("GuardedHttpProtocol", (_GuardedMixin, HttpToolsProtocol), {"limits": limits})


class _GuardedMixin:
    limits: ConnectionLimits
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            logger.warning("connection refused: %d open connections (cap %d)",
                           len(self.connections) - 1, self.limits.max_connections)
            transport.close()  # frees the file descriptor now
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        self._arm(self.limits.header_timeout, "the request head")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.limits.header_timeout, "the request head")

    def on_headers_complete(self) -> None:
        self._disarm()
        if self.url[:1] != b"/":
            self._note_target_host()
        super().on_headers_complete()
        if self.parser.should_upgrade():
            return  # a WebSocket handshake: this protocol object hands over
        self._arm(self.limits.body_timeout, "the request body")

    def _note_target_host(self) -> None:
        try:
            parsed = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            return
        if parsed.host:
            port = f":{parsed.port}" if parsed.port else ""
            self.scope[TARGET_HOST] = parsed.host.decode("latin-1") + port

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(seconds, self._expire, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, what: str) -> None:
        self._deadline = None
        logger.info("closing a connection that did not send %s in time", what)
        self.transport.close()
