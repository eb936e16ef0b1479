"""A card feeder: a stack of blank cards fed into one vpcd reader, the next one inserted when
the previous one is taken out.

A production line's reader ejects a finished card when the producer disconnects with the
PC/SC eject disposition (``SCARD_EJECT_CARD``). vpcd forwards neither that disposition nor
reader escapes to the card side (measured: pcscd answers the disconnect with success and the
card sees nothing), but pcscd powers a card down shortly after its last handle goes away. So
the simulated feeder takes a card out at the first power-down after it was *personalized
during this insertion* (its identity locked while in the feeder) and inserts the next blank
card ``insert_delay`` seconds later, long enough for pcscd to see the removal; when pcscd runs on
this machine the feeder also waits (up to :data:`REMOVAL_WAIT` seconds) until pcscd reports the
reader empty and its event counter has moved, since a card inserted before pcscd's poller has
seen the slot empty (late under load) would be taken for the old one, still powered, and marked
mute, or never reported at all (see :func:`.vpcd.wait_reader_empty`). A card still blank (a failed write that never
reached the lock) stays in for another try.

The stack is a folder of card images, ``feeder-0001.json`` .. ``feeder-NNNN.json``, created
blank if missing. A personalized image is skipped, so a feeder restarted on the same folder
resumes with the next blank card.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from pathlib import Path

from .card import VirtualCard
from .devkeys import load_dev_master_keys
from .faults import CardPulled
from .image import CardImage
from .vpcd import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LOCAL_HOSTS,
    POWER_OFF,
    REMOVAL_WAIT,
    VpcdBridge,
    reader_event_counter,
    wait_reader_empty,
)

logger = logging.getLogger(__name__)

SERIAL_PREFIX = bytes.fromhex("5250")  # "RP"


def stack_paths(folder: Path, count: int) -> list[Path]:
    return [folder / f"feeder-{n:04d}.json" for n in range(1, count + 1)]


def prepare_stack(folder: Path, count: int, seed: int | None = None) -> list[Path]:
    """Create the missing blank images of a stack of ``count`` cards; return all paths.

    Serials are ``5250`` + 6 random bytes (``seed`` makes them repeatable)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    masters = load_dev_master_keys()
    paths = stack_paths(folder, count)
    for path in paths:
        serial = SERIAL_PREFIX + rng.randbytes(6)
        if not path.exists():
            CardImage.blank(serial, masters, path).save()
    return paths


class FeederBridge(VpcdBridge):
    """A :class:`VpcdBridge` over a stack of cards; see the module docstring."""

    def __init__(self, paths: list[Path], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 insert_delay: float = 0.8,
                 on_taken: Callable[[VirtualCard, int], None] | None = None,
                 timing: object | None = None) -> None:
        self._timing = timing
        self._queue = [p for p in paths if not CardImage.load(p).locked]
        self.total = len(paths)
        self._done_before = self.total - len(self._queue)  # a resumed stack
        self.taken: list[str] = []
        self.insert_delay = insert_delay
        self.on_taken = on_taken
        self.empty = threading.Event()
        self._counter_at_out: int | None = None
        first = self._next_card()
        super().__init__(first or VirtualCard(paths[0]), host, port, reinsert_delay=insert_delay)
        if first is None:  # every card of the stack is already personalized
            self._inserted.clear()
            self.empty.set()

    @property
    def remaining(self) -> int:
        """Blank cards not yet taken out (the one in the reader included)."""
        return len(self._queue) + (0 if self.empty.is_set() else 1)

    def _next_card(self) -> VirtualCard | None:
        if not self._queue:
            return None
        path = self._queue.pop(0)
        return VirtualCard(path) if self._timing is None else VirtualCard(path, timing=self._timing)

    def _control(self, code: int) -> bytes | None:
        if code == POWER_OFF and self.card.image.locked and not self.card.faults.muted:
            self.card.power_off()
            self._take_out()
            raise CardPulled("ejected")
        return super()._control(code)

    def _take_out(self) -> None:
        """The finished card leaves; the next blank one follows after ``insert_delay``."""
        self.taken.append(self.card.image.serial.hex())
        done = self._done_before + len(self.taken)
        logger.info("card %s taken out (%d of %d)", self.card.image.serial.hex(), done,
                    self.total)
        if self.on_taken is not None:
            self.on_taken(self.card, done)
        # pcscd still counts this card in: its poller raises the counter when it sees it gone
        self._counter_at_out = (reader_event_counter(self.reader_name)
                                if self.host in LOCAL_HOSTS else None)
        following = self._next_card()
        if following is None:
            self.empty.set()
            return
        timer = threading.Timer(self.insert_delay, self._feed, (following,))
        timer.daemon = True
        timer.start()

    def _feed(self, card: VirtualCard) -> None:
        if self._stopping.is_set():
            return
        if self.host in LOCAL_HOSTS:
            wait_reader_empty(self.reader_name, REMOVAL_WAIT, self._stopping,
                              self._counter_at_out)
        self.card = card
        self.insert()
