"""The blocking client: ``Client("http://127.0.0.1:8765", token=...)``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Self

import httpx
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from cardservice.client import _core, models
from cardservice.client._core import Call, Retry
from cardservice.client.errors import CardServiceError


class Client:
    """Methods are named after the routes; results are typed (:mod:`cardservice.client.models`);
    errors are exceptions by code family (:mod:`cardservice.client.errors`)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8765", token: str | None = None, *,
                 retry: Retry = _core.DEFAULT_RETRY, timeout: float = 30.0, **httpx_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  headers=_core.auth_headers(token), **httpx_options)

    # --- routes --------------------------------------------------------------------------

    def health(self) -> models.Health:
        return self._run(_core.health())

    def readers(self) -> list[models.Reader]:
        return self._run(_core.readers())

    def read_card(self, reader_id: str) -> models.Card:
        return self._run(_core.read_card(reader_id))

    def issue(self, reader_id: str, identity: dict[str, Any], residence: dict[str, Any], *,
              card_serial: str | None = None, idempotency_key: str | None = None,
              evidence: dict[str, Any] | None = None) -> models.Card:
        """Personalize the blank card ``card_serial`` (its serial as read) in the reader;
        ``evidence`` ({kind, reference}): needed for long-term in the holder's own right."""
        return self._run(_core.issue(reader_id, identity, residence, card_serial,
                                     idempotency_key, evidence))

    def resign(self, reader_id: str, current_residence: str, *, idempotency_key: str | None = None,
               **fields: Any) -> models.Card:
        """Re-sign after a move; ``fields``: permit_type, basis, expires_on, card_serial."""
        body = {"current_residence": current_residence, **fields}
        return self._run(_core.resign(reader_id, body, idempotency_key))

    def renew(self, reader_id: str, *, idempotency_key: str | None = None,
              **fields: Any) -> models.Card:
        """Renew; ``fields``: permit_type, basis, expires_on, evidence ({kind, reference}:
        needed for a change to long-term or to another basis), card_serial."""
        return self._run(_core.renew(reader_id, fields, idempotency_key))

    def revoke(self, card_serial: str, reason: str, *,
               idempotency_key: str | None = None) -> models.RegistryCard:
        return self._run(_core.revoke(card_serial, reason, idempotency_key))

    def registry_card(self, card_serial: str) -> models.RegistryCard:
        return self._run(_core.registry_card(card_serial))

    def cards_of(self, citizen_number: str) -> list[models.RegistryCard]:
        return self._run(_core.cards_of(citizen_number))

    def request_pairing(self, app_name: str) -> models.PairingCreated:
        return self._run(_core.request_pairing(app_name), retry=_core.NO_RETRY)

    def pairing_status(self, request_id: str) -> models.PairingStatus:
        return self._run(_core.pairing_status(request_id))

    def events(self, *, reconnect: bool = True) -> EventStream:
        """The live events (:class:`models.Event`), with :class:`models.Missed` before an event
        when some were missed; reconnects after a lost connection unless told not to."""
        return EventStream(self, reconnect=reconnect)

    @classmethod
    def pair(cls, base_url: str, app_name: str, show_code: Callable[[str], None], *,
             poll_every: float = 1.0, **options: Any) -> Client:
        """Ask the daemon for a token, show the code for the clerk to compare, wait for the
        approval (up to 5 minutes); the returned client holds the new token (``.token``: store
        it, it is given once). Raises :class:`PairingFailed` if denied or expired."""
        with cls(base_url, **options) as anonymous:
            created = anonymous.request_pairing(app_name)
            show_code(created.code)
            while (token := _core.pairing_token(anonymous.pairing_status(created.id))) is None:
                time.sleep(poll_every)
            return cls(base_url, token=token, **options)

    # --- plumbing ------------------------------------------------------------------------

    def _run(self, call: Call, retry: Retry | None = None) -> Any:
        retry = retry or self.retry
        attempts = retry.attempts if _core.may_retry(call) else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(call.method, call.path, json=call.body,
                                              params=call.params, headers=call.headers)
                return _core.outcome(call, response.status_code,
                                     _core.json_or_none(response.content))
            except httpx.TransportError as exc:
                error = _core.connection_failed(exc)
            except CardServiceError as exc:
                error = exc
            if not error.retriable or attempt + 1 == attempts:
                raise error
            time.sleep(retry.pause(attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventStream:
    """Iterate to receive events; ``close()`` (from another thread) or ``break`` to stop."""

    def __init__(self, client: Client, *, reconnect: bool = True, max_backoff: float = 5.0,
                 open_timeout: float = 10.0) -> None:
        self.client = client
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.tracker = _core.SeqTracker()
        self._ws = None
        self._closed = False

    def __iter__(self) -> Iterator[models.Event | models.Missed]:
        pause = 0.2
        while not self._closed:
            try:
                with connect(_core.ws_url(self.client.base_url), open_timeout=self.open_timeout,
                             additional_headers=_core.auth_headers(self.client.token)) as ws:
                    self._ws, pause = ws, 0.2
                    for raw in ws:
                        yield from self.tracker.messages(raw)
            except InvalidStatus as exc:
                raise _core.refused(exc.response.status_code, exc.response.body) from exc
            except (OSError, WebSocketException, TimeoutError):
                pass  # the daemon went away or is restarting
            finally:
                self._ws = None
            if not self.reconnect or self._closed:
                return
            time.sleep(pause)
            pause = min(self.max_backoff, pause * 2)

    def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            self._ws.close()

