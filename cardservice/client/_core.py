"""What the sync and the async client share: the calls (method, path, body, result type), the
retry rule, the token header, and the tracking of event sequence numbers."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import TypeAdapter

from cardservice.client import models
from cardservice.client.errors import CardServiceError, ConnectionFailed, from_response

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Retry:
    """Bounded retry with exponential back-off, for answers whose code is retriable (and for a
    daemon that cannot be reached). A write is retried only with its ``Idempotency-Key``,
    which every write carries, so a retry never writes twice."""

    attempts: int = 3
    backoff: float = 0.25
    max_backoff: float = 4.0

    def pause(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * 2 ** attempt)
        return base * (0.75 + random.random() / 2)  # jitter: readers do not retry in step


DEFAULT_RETRY = Retry()
NO_RETRY = Retry(attempts=1)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    result: Callable[[Any], Any]
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _parser(kind: Any) -> Callable[[Any], Any]:
    return TypeAdapter(kind).validate_python


_HEALTH, _READERS = _parser(models.Health), _parser(list[models.Reader])
_CARD, _REGISTRY = _parser(models.Card), _parser(models.RegistryCard)
_REGISTRY_LIST = _parser(list[models.RegistryCard])
_PAIRING_CREATED, _PAIRING_STATUS = _parser(models.PairingCreated), _parser(models.PairingStatus)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in values.items() if v is not None}


def _write(path: str, result: Callable[[Any], Any], body: dict[str, Any],
           key: str | None) -> Call:
    return Call("POST", path, result, body=body,
                headers={IDEMPOTENCY_HEADER: key or str(uuid.uuid4())})


def health() -> Call:
    return Call("GET", "/v1/health", _HEALTH)


def readers() -> Call:
    return Call("GET", "/v1/readers", _READERS)


def read_card(reader_id: str) -> Call:
    return Call("GET", f"/v1/readers/{reader_id}/card", _CARD)


def issue(reader_id: str, identity: dict[str, Any], residence: dict[str, Any],
          card_serial: str | None, key: str | None,
          evidence: dict[str, Any] | None = None) -> Call:
    body = {"identity": _clean(identity), "residence": _clean(residence),
            **_clean({"evidence": evidence, "card_serial": card_serial})}
    return _write(f"/v1/readers/{reader_id}/card/issue", _CARD, body, key)


def resign(reader_id: str, fields: dict[str, Any], key: str | None) -> Call:
    return _write(f"/v1/readers/{reader_id}/card/resign", _CARD, _clean(fields), key)


def renew(reader_id: str, fields: dict[str, Any], key: str | None) -> Call:
    return _write(f"/v1/readers/{reader_id}/card/renew", _CARD, _clean(fields), key)


def revoke(serial: str, reason: str, key: str | None) -> Call:
    return _write(f"/v1/cards/{serial}/revoke", _REGISTRY, {"reason": reason}, key)


def registry_card(serial: str) -> Call:
    return Call("GET", f"/v1/cards/{serial}", _REGISTRY)


def cards_of(citizen_number: str) -> Call:
    return Call("GET", "/v1/cards", _REGISTRY_LIST, params={"citizen_number": citizen_number})


def request_pairing(app_name: str) -> Call:
    # a pairing request is not retried: each one is a new request the clerk sees
    return Call("POST", "/v1/pairing", _PAIRING_CREATED, body={"name": app_name})


def pairing_status(request_id: str) -> Call:
    return Call("GET", f"/v1/pairing/{request_id}", _PAIRING_STATUS)


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def may_retry(call: Call) -> bool:
    """Reads always; writes only with their Idempotency-Key."""
    return call.method == "GET" or IDEMPOTENCY_HEADER in call.headers


def outcome(call: Call, status: int, body: Any) -> Any:
    """The call's typed result, or raise the daemon's error as an exception."""
    if 200 <= status < 300:
        return call.result(body)
    raise from_response(status, body)


def connection_failed(exc: Exception) -> CardServiceError:
    return ConnectionFailed("CONNECTION_FAILED", f"the daemon did not answer: {exc}",
                            retriable=True)


def json_or_none(raw: str | bytes | None) -> Any:
    """A response body as JSON, or ``None`` when it is empty or not JSON."""
    try:
        return json.loads(raw or b"")
    except ValueError:
        return None


def refused(status: int, raw_body: bytes | None) -> CardServiceError:
    """The daemon refused the event stream's upgrade (401, 403, ...)."""
    return from_response(status, json_or_none(raw_body))


class PairingFailed(CardServiceError):
    """The clerk denied the pairing request, or it expired before approval."""


def pairing_token(status: models.PairingStatus) -> str | None:
    """The approved pairing's token; ``None`` while pending; raise when denied or expired."""
    if status.status == "approved" and status.token:
        return status.token
    if status.status != "pending":
        raise PairingFailed(f"PAIRING_{status.status.upper()}",
                            f"the pairing request is {status.status}")
    return None


class SeqTracker:
    """Turns the hello and the ``seq`` of each event into :class:`models.Missed` notices."""

    def __init__(self) -> None:
        self.stream: str | None = None
        self.last = 0

    def see(self, message: dict[str, Any]) -> models.Missed | None:
        if message.get("type") == "hello":
            return self._hello(message)
        seq = message.get("seq")
        if not isinstance(seq, int):
            return None
        gap, self.last = seq - self.last - 1, max(self.last, seq)
        return models.Missed(count=gap, reason="gap") if gap > 0 else None

    def messages(self, raw: str | bytes) -> Iterator[models.Event | models.Missed]:
        """One WebSocket message as received: the event, after a notice if some were missed."""
        message = json.loads(raw)
        missed = self.see(message)
        if missed is not None:
            yield missed
        yield models.Event.model_validate(message)

    def _hello(self, hello: dict[str, Any]) -> models.Missed | None:
        stream, seq = hello.get("stream"), int(hello.get("seq") or 0)
        first, restarted = self.stream is None, stream != self.stream
        self.stream = stream
        if first or restarted:
            self.last = seq
            return None if first else models.Missed(count=None, reason="restarted")
        gap, self.last = seq - self.last, max(self.last, seq)
        return models.Missed(count=gap, reason="reconnected") if gap > 0 else None


def ws_url(base_url: str) -> str:
    scheme, rest = base_url.rstrip("/").split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/v1/events"
