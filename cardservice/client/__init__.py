"""A Python client for the cardservice daemon (imports no server code).

    from cardservice.client import Client
    with Client("http://127.0.0.1:8765", token=TOKEN) as cs:
        card = cs.read_card(cs.readers()[0].id)

``AsyncClient`` has the same methods, awaited. Writes carry an ``Idempotency-Key`` (one per call,
kept across its retries); answers with a retriable code are retried a bounded number of times
with back-off (:class:`Retry`); errors are exceptions by code family (:mod:`.errors`).
"""

from cardservice.client._core import PairingFailed, Retry
from cardservice.client.aio import AsyncClient, AsyncEventStream
from cardservice.client.errors import (
    AuthError,
    CardProtocolError,
    CardServiceError,
    CardStateError,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PolicyViolation,
    RateLimited,
    ReaderError,
    ServerError,
)
from cardservice.client.models import Card, Event, Health, Missed, Reader, RegistryCard
from cardservice.client.sync import Client, EventStream

__all__ = [
    "AsyncClient", "AsyncEventStream", "AuthError", "Card", "CardProtocolError",
    "CardServiceError", "CardStateError", "Client", "ConnectionFailed", "Event", "EventStream",
    "Health", "InvalidRequest", "Missed", "NotFound", "PairingFailed", "PolicyViolation",
    "RateLimited", "Reader", "ReaderError", "RegistryCard", "Retry", "ServerError",
]
