"""The asyncio client: ``AsyncClient("http://127.0.0.1:8765", token=...)``, the same methods as
:class:`cardservice.client.Client`, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Self

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from cardservice.client import _core, models
from cardservice.client._core import Call, Retry
from cardservice.client.errors import CardServiceError


class AsyncClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8765", token: str | None = None, *,
                 retry: Retry = _core.DEFAULT_RETRY, timeout: float = 30.0, **httpx_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       headers=_core.auth_headers(token), **httpx_options)

    async def health(self) -> models.Health:
        return await self._run(_core.health())

    async def readers(self) -> list[models.Reader]:
        return await self._run(_core.readers())

    async def read_card(self, reader_id: str) -> models.Card:
        return await self._run(_core.read_card(reader_id))

    async def issue(self, reader_id: str, identity: dict[str, Any], residence: dict[str, Any],
                    *, card_serial: str | None = None,
                    idempotency_key: str | None = None,
                    evidence: dict[str, Any] | None = None) -> models.Card:
        return await self._run(_core.issue(reader_id, identity, residence, card_serial,
                                           idempotency_key, evidence))

    async def resign(self, reader_id: str, current_residence: str, *,
                     idempotency_key: str | None = None, **fields: Any) -> models.Card:
        body = {"current_residence": current_residence, **fields}
        return await self._run(_core.resign(reader_id, body, idempotency_key))

    async def renew(self, reader_id: str, *, idempotency_key: str | None = None,
                    **fields: Any) -> models.Card:
        return await self._run(_core.renew(reader_id, fields, idempotency_key))

    async def revoke(self, card_serial: str, reason: str, *,
                     idempotency_key: str | None = None) -> models.RegistryCard:
        return await self._run(_core.revoke(card_serial, reason, idempotency_key))

    async def registry_card(self, card_serial: str) -> models.RegistryCard:
        return await self._run(_core.registry_card(card_serial))

    async def cards_of(self, citizen_number: str) -> list[models.RegistryCard]:
        return await self._run(_core.cards_of(citizen_number))

    async def request_pairing(self, app_name: str) -> models.PairingCreated:
        return await self._run(_core.request_pairing(app_name), retry=_core.NO_RETRY)

    async def pairing_status(self, request_id: str) -> models.PairingStatus:
        return await self._run(_core.pairing_status(request_id))

    def events(self, *, reconnect: bool = True) -> AsyncEventStream:
        return AsyncEventStream(self, reconnect=reconnect)

    @classmethod
    async def pair(cls, base_url: str, app_name: str, show_code: Callable[[str], None], *,
                   poll_every: float = 1.0, **options: Any) -> AsyncClient:
        """See :meth:`cardservice.client.Client.pair`."""
        async with cls(base_url, **options) as anonymous:
            created = await anonymous.request_pairing(app_name)
            show_code(created.code)
            while (token := _core.pairing_token(
                    await anonymous.pairing_status(created.id))) is None:
                await asyncio.sleep(poll_every)
            return cls(base_url, token=token, **options)

    async def _run(self, call: Call, retry: Retry | None = None) -> Any:
        retry = retry or self.retry
        attempts = retry.attempts if _core.may_retry(call) else 1
        for attempt in range(attempts):
            try:
                response = await self._http.request(call.method, call.path, json=call.body,
                                                    params=call.params, headers=call.headers)
                return _core.outcome(call, response.status_code,
                                     _core.json_or_none(response.content))
            except httpx.TransportError as exc:
                error = _core.connection_failed(exc)
            except CardServiceError as exc:
                error = exc
            if not error.retriable or attempt + 1 == attempts:
                raise error
            await asyncio.sleep(retry.pause(attempt))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncEventStream:
    """``async for event in client.events(): ...``; ``await stream.aclose()`` to stop."""

    def __init__(self, client: AsyncClient, *, reconnect: bool = True,
                 max_backoff: float = 5.0, open_timeout: float = 10.0) -> None:
        self.client = client
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.tracker = _core.SeqTracker()
        self._ws = None
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[models.Event | models.Missed]:
        pause = 0.2
        while not self._closed:
            try:
                async with connect(_core.ws_url(self.client.base_url),
                                   open_timeout=self.open_timeout,
                                   additional_headers=_core.auth_headers(self.client.token)) as ws:
                    self._ws, pause = ws, 0.2
                    async for raw in ws:
                        for item in self.tracker.messages(raw):
                            yield item
            except InvalidStatus as exc:
                raise _core.refused(exc.response.status_code, exc.response.body) from exc
            except (OSError, WebSocketException, TimeoutError):
                pass
            finally:
                self._ws = None
            if not self.reconnect or self._closed:
                return
            await asyncio.sleep(pause)
            pause = min(self.max_backoff, pause * 2)

    async def aclose(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
