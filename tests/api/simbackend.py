"""A reader backend made of simulator VirtualCards: the daemon's PC/SC seam without pcscd.

Readers can be added, removed, hold or lose a card, and a card can "hang" (never answer, as
pcscd waits forever on a mute card) until released. PC/SC itself can be made unavailable.
"""

from __future__ import annotations

import random
import threading
import time

from cardservice import errors
from cardservice.transport import CardConnection
from cardservice.transport.readers import ReaderInfo
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.inprocess import InProcessConnection

HANG_LIMIT = 30.0
UPDATE_BINARY = 0xD6  # a hung APDU gives up after this many seconds, so no thread outlives a run


def make_card(serial_hex: str, seed: int = 7) -> VirtualCard:
    image = CardImage.blank(bytes.fromhex(serial_hex), load_dev_master_keys())
    return VirtualCard(image, rng=random.Random(seed))


class _Connection(CardConnection):
    def __init__(self, inner: InProcessConnection, name: str, backend: SimulatedBackend) -> None:
        self._inner = inner
        self._name = name
        self._backend = backend

    @property
    def atr(self) -> bytes:
        return self._inner.atr

    @property
    def reader_name(self) -> str:
        return self._name

    _since: float | None = None

    @property
    def call_age(self) -> float | None:
        """Seconds the APDU now being sent has taken (as PcscConnection reports it), with the
        backend's ``report_call_age`` (otherwise only the operation's deadline applies)."""
        since = self._since
        if since is None or not self._backend.report_call_age:
            return None
        return time.monotonic() - since

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self._backend.apdus[self._name] = self._backend.apdus.get(self._name, 0) + 1
        self._since = time.monotonic()
        try:
            gate = self._backend.hung.get(self._name)
            if gate is not None and not gate.wait(HANG_LIMIT):
                raise errors.CardTimeoutError("simulated card hung")
            self._pull_after_write(apdu)
            return self._inner.send_and_receive(apdu)
        finally:
            self._since = None

    def _pull_after_write(self, apdu: bytes) -> None:
        """With ``pull_after_write``: the card leaves at the first command after an UPDATE."""
        if self._name not in self._backend.pull_after_write:
            return
        if apdu[1] == UPDATE_BINARY:
            self._wrote = True
        elif getattr(self, "_wrote", False):
            self._backend.pull_after_write.discard(self._name)
            self._backend.pull(self._name)
            raise errors.CardRemovedError("simulated card pulled after the write")


class SimulatedBackend:
    def __init__(self) -> None:
        self.slots: dict[str, VirtualCard | None] = {}
        self.hung: dict[str, threading.Event] = {}
        self.apdus: dict[str, int] = {}
        self.pull_after_write: set[str] = set()
        self.stacks: dict[str, list[VirtualCard]] = {}  # feeders: the cards after the one in
        self.ejected: list[VirtualCard] = []
        self.report_call_age = False
        self.available = True
        self._changed = threading.Event()

    # --- test controls ------------------------------------------------------------------

    def add_reader(self, name: str, card: VirtualCard | None = None) -> None:
        self.slots[name] = card
        self._changed.set()

    def remove_reader(self, name: str) -> None:
        del self.slots[name]
        self._changed.set()

    def insert(self, name: str, card: VirtualCard | None = None) -> VirtualCard:
        card = card or self.slots[name]
        card.insert()
        self.slots[name] = card
        self._changed.set()
        return card

    def pull(self, name: str) -> None:
        card = self.slots[name]
        if card is not None:
            card.remove()
        self._changed.set()

    def feed(self, name: str, cards: list[VirtualCard]) -> None:
        """A feeder reader: the first card goes in, each eject brings the next."""
        self.stacks[name] = list(cards[1:])
        self.slots[name] = cards[0] if cards else None
        self._changed.set()

    def hang(self, name: str) -> None:
        self.hung[name] = threading.Event()

    def release(self) -> None:
        for gate in self.hung.values():
            gate.set()
        self.hung.clear()

    def set_available(self, available: bool) -> None:
        self.available = available
        self._changed.set()

    # --- ReaderBackend ------------------------------------------------------------------

    def readers(self) -> list[ReaderInfo]:
        self._check()
        out = []
        for name, card in list(self.slots.items()):
            present = card is not None and card.present
            out.append(ReaderInfo(name, present, card.atr if present else None))
        return out

    def connect(self, name: str) -> CardConnection:
        self._check()
        if name not in self.slots:
            raise errors.ReaderNotFoundError(f"no reader {name!r}")
        card = self.slots[name]
        if card is None or not card.present:
            raise errors.NoCardError(f"no card in {name!r}")
        return _Connection(InProcessConnection(card), name, self)

    def card_token(self, name: str) -> object | None:
        self._check()
        card = self.slots.get(name)
        return id(card) if card is not None and card.present else None

    def eject(self, name: str) -> None:
        card = self.slots.get(name)
        if card is not None:
            card.remove()
            self.ejected.append(card)
        stack = self.stacks.get(name) or []
        self.slots[name] = stack.pop(0) if stack else None
        self._changed.set()

    def wait_for_change(self, timeout: float) -> None:
        self._changed.wait(timeout)
        self._changed.clear()
        self._check()

    def cancel(self) -> None:
        self._changed.set()

    def _check(self) -> None:
        if not self.available:
            raise errors.PcscUnavailableError("simulated pcscd is stopped")
