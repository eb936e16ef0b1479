"""A virtual RP1 card in a reader slot: power, presence, fault plan and the card OS."""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

from .card_os import CardOS
from .faults import CardAbsent, CardMute, CardPulled, FaultPlan, NotPowered, PowerLost
from .image import CardImage
from .timing import INSTANT, Pacer, Profile, atr_for, atr_seconds

logger = logging.getLogger(__name__)

Rng = random.Random | Callable[[int], bytes]


def _byte_source(rng: Rng | None) -> Callable[[int], bytes]:
    if rng is None:
        return os.urandom
    if isinstance(rng, random.Random):
        return rng.randbytes
    return rng


class VirtualCard:
    """One card. ``process`` answers an APDU or raises a :class:`~simulator.faults.CardGone`.

    ``image`` is a :class:`CardImage` or the path of an image file; ``rng`` a ``random.Random`` or
    a callable ``n -> n bytes`` (default ``os.urandom``) for GET CHALLENGE; ``timing`` the
    :mod:`~simulator.timing` profile the card answers at (default: instantly).
    """

    def __init__(self, image: CardImage | str | Path, rng: Rng | None = None,
                 timing: Profile = INSTANT) -> None:
        self.image = image if isinstance(image, CardImage) else CardImage.load(Path(image))
        self.faults = FaultPlan()
        self.os = CardOS(self.image, _byte_source(rng), self.faults.update_cut_point)
        self.present = True
        self.powered = False
        self.apdu_count = 0
        self._lock = threading.RLock()
        self.timing = timing
        self._pacer = Pacer(timing)
        self._atr = atr_for(timing)

    @property
    def update_count(self) -> int:
        """UPDATE BINARY commands that reached the card's memory (cut ones included)."""
        return self.os.update_count

    @property
    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> bytes:
        """Cold reset: RAM cleared, RP1 implicitly selected; returns the ATR."""
        with self._lock:
            if not self.present:
                raise CardAbsent("no card in the reader")
            self.powered = True
            self.os.reset()
            self._pacer.pause(atr_seconds(self.timing))
            return self._atr

    def power_off(self) -> None:
        with self._lock:
            self.powered = False
            self.os.reset()

    def reset(self) -> bytes:
        """Warm reset: same as power-on for this card."""
        return self.power_on()

    def remove(self) -> None:
        """Take the card out of the reader (power is lost)."""
        with self._lock:
            self.present = False
            self.power_off()

    def insert(self) -> None:
        """Put the card (back) into the reader; it is powered on by the next user."""
        with self._lock:
            self.present = True
            self.faults.take_pull()

    def process(self, apdu: bytes) -> bytes:
        """Run one APDU: response data + SW, or raise PowerLost / CardPulled / CardMute /
        CardAbsent / NotPowered."""
        with self._lock:
            if not self.present:
                raise CardAbsent("no card in the reader")
            if not self.powered:
                raise NotPowered("card not powered")
            self.apdu_count += 1
            started = self._pacer.start()
            response = self._run(apdu)
            self._pacer.finish(started, apdu, len(response))
            return response

    def _run(self, apdu: bytes) -> bytes:
        action = self.faults.before_apdu(apdu[1] if len(apdu) > 1 else -1)
        if action.kind == "pull":
            self.remove()
            raise CardPulled("card pulled out of the reader")
        if action.kind == "cut":
            self.power_off()
            raise PowerLost("power lost before the APDU ran")
        if action.kind == "mute":
            raise CardMute("card does not answer")
        if action.kind == "sw":
            return action.sw.to_bytes(2, "big")
        try:
            return self.os.process(apdu)
        except PowerLost:
            self.power_off()
            raise
