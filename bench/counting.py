"""A :class:`CardConnection` wrapper that counts APDUs and bytes at the transport."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cardservice.transport import CardConnection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Traffic:
    """APDUs and bytes exchanged: command bytes sent, response bytes (data + SW) received."""

    apdus: int
    sent: int
    received: int

    @property
    def wire_bytes(self) -> int:
        return self.sent + self.received

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(self.apdus - other.apdus, self.sent - other.sent,
                       self.received - other.received)


class CountingConnection(CardConnection):
    """Passes every APDU to ``inner`` and counts it; ``log`` keeps the commands in order."""

    def __init__(self, inner: CardConnection) -> None:
        self.inner = inner
        self.waits_for_card = inner.waits_for_card
        self.log: list[bytes] = []
        self._received: list[int] = []

    @property
    def traffic(self) -> Traffic:
        return self.since(0)

    def since(self, first: int) -> Traffic:
        """Traffic of the APDUs from number ``first`` (0-based) on."""
        return Traffic(len(self.log[first:]), sum(map(len, self.log[first:])),
                       sum(self._received[first:]))

    def exchanges(self) -> list[tuple[bytes, int]]:
        """(command APDU, response length with SW) of every APDU, in order."""
        return list(zip(self.log, self._received))

    def reset(self) -> None:
        self.log.clear()
        self._received.clear()

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.send_and_receive(apdu)
        self.log.append(bytes(apdu))
        self._received.append(len(data) + 2)
        return data, sw

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    @property
    def reader_name(self) -> str:
        return self.inner.reader_name

    def begin_transaction(self) -> None:
        self.inner.begin_transaction()

    def end_transaction(self) -> None:
        self.inner.end_transaction()

    def close(self) -> None:
        self.inner.close()
