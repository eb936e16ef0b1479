"""The I/O seam: one small abstract connection that the pyscard driver and the in-process
simulator both implement (as yubikit's ``SmartCardConnection``)."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ReaderInfo:
    """A reader as listed: its name, whether it holds a card, and the card's ATR."""

    name: str
    card_present: bool
    atr: bytes | None


class CardConnection(abc.ABC):
    """A connection to one card in one reader.

    ``send_and_receive`` sends one raw command APDU and returns ``(data, sw)`` with no status-word
    processing (61xx / 6Cxx chaining lives in :mod:`cardservice.card.apdu`). Transport failures raise
    :class:`cardservice.errors.TransportError` subclasses.
    """

    #: whether an APDU's round trip leaves this thread waiting on the reader (pcscd answers
    #: while pyscard holds no GIL), so work started on another thread runs meanwhile; a card
    #: played in this process answers on this thread's own time
    waits_for_card: bool = False

    @abc.abstractmethod
    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        """Transmit one command APDU; return the response data and the status word."""

    @property
    @abc.abstractmethod
    def atr(self) -> bytes:
        """The card's answer to reset."""

    @property
    def reader_name(self) -> str:
        return "in-process"

    def begin_transaction(self) -> None:
        """Start exclusive access for a multi-APDU operation (no-op where not applicable)."""

    def end_transaction(self) -> None:
        """End exclusive access."""

    def exclusive(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` (a multi-APDU card operation) inside one transaction.

        Drivers may run it on their own I/O thread (the pyscard driver does, so that one thread
        hand-off covers the whole operation while its watchdog still bounds every transmit).
        """
        from cardservice.errors import CardServiceError

        self.begin_transaction()
        try:
            return operation()
        finally:
            with contextlib.suppress(CardServiceError):
                self.end_transaction()

    def close(self) -> None:
        """Release the connection, leaving the card powered."""

    def eject(self) -> None:
        """Release the connection and have the reader eject the card (a feeder reader then
        takes the next one). Readers that cannot eject just release it."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
