"""Fault injection: a plan of power cuts, mute phases, forced status words and card pulls.

Counts start when a fault is set. The card consults the plan before each APDU
(:meth:`FaultPlan.before_apdu`) and before each UPDATE BINARY writes
(:meth:`FaultPlan.update_cut_point`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class CardGone(Exception):
    """Base of the ways the card does not answer an APDU."""


class PowerLost(CardGone):
    """The card lost power while (or before) handling the APDU; it is now powered off."""


class CardPulled(CardGone):
    """The card was pulled out of the reader; it stays out until inserted again."""


class CardAbsent(CardGone):
    """There is no card in the reader."""


class CardMute(CardGone):
    """The card does not answer."""


class NotPowered(CardGone):
    """The card is in the reader but not powered (power it on first)."""


@dataclass(frozen=True)
class Action:
    """What the plan decides for one APDU: nothing, a power cut, mute, or a forced SW."""

    kind: str  # "none" | "cut" | "mute" | "sw" | "pull"
    sw: int = 0


NONE = Action("none")


@dataclass
class _ForcedSw:
    sw: int
    ins: int | None
    times: int


class FaultPlan:
    """Faults to inject into one virtual card; safe to change from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Drop every pending fault and unmute (a pulled card stays out until inserted)."""
        with self._lock:
            self._cut_after: int | None = None
            self._update_cut: tuple[int, int] | None = None
            self._mute_after: int | None = None
            self.muted = False
            self._forced: list[_ForcedSw] = []
            self._pull = False

    def cut_power_after(self, n_apdus: int) -> None:
        """Answer ``n_apdus`` more APDUs normally, then lose power on the next one (not run)."""
        with self._lock:
            self._cut_after = _non_negative(n_apdus, "n_apdus")

    def cut_power_in_update(self, nth_update: int = 1, after_bytes: int = 0) -> None:
        """In the ``nth_update``-th UPDATE BINARY from now, lose power after ``after_bytes``
        bytes have landed (the rest keep their old values; >= Lc: all land, no answer)."""
        if nth_update < 1:
            raise ValueError("nth_update counts from 1")
        with self._lock:
            self._update_cut = (nth_update, _non_negative(after_bytes, "after_bytes"))

    def mute(self, after_apdus: int = 0) -> None:
        """Answer ``after_apdus`` more APDUs, then never answer until :meth:`unmute`."""
        with self._lock:
            self._mute_after = _non_negative(after_apdus, "after_apdus")
            if after_apdus == 0:
                self.muted = True

    def unmute(self) -> None:
        with self._lock:
            self._mute_after = None
            self.muted = False

    def answer_sw(self, sw: int, ins: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` APDUs (with INS ``ins``, or any) with ``sw`` only,
        without running them."""
        if not 0 <= sw <= 0xFFFF:
            raise ValueError("sw must be two bytes")
        with self._lock:
            self._forced.append(_ForcedSw(sw, ins, _non_negative(times, "times")))

    def pull(self) -> None:
        """Pull the card out of the reader at the next APDU (or at once on a vpcd bridge)."""
        with self._lock:
            self._pull = True

    def take_pull(self) -> bool:
        """True once after :meth:`pull` (the card consumes the request)."""
        with self._lock:
            pull, self._pull = self._pull, False
            return pull

    def before_apdu(self, ins: int) -> Action:
        """Decide the fault (if any) for the next APDU and advance the counters."""
        with self._lock:
            if self._pull:
                self._pull = False
                return Action("pull")
            if self._countdown("_cut_after"):
                return Action("cut")
            if self._countdown("_mute_after"):
                self.muted = True
            if self.muted:
                return Action("mute")
            return self._forced_sw(ins)

    def update_cut_point(self) -> int | None:
        """For an UPDATE BINARY about to write: the bytes to land before the power cut, or None."""
        with self._lock:
            if self._update_cut is None:
                return None
            nth, after = self._update_cut
            if nth > 1:
                self._update_cut = (nth - 1, after)
                return None
            self._update_cut = None
            return after

    def _countdown(self, name: str) -> bool:
        left = getattr(self, name)
        if left is None:
            return False
        if left == 0:
            setattr(self, name, None)
            return True
        setattr(self, name, left - 1)
        return False

    def _forced_sw(self, ins: int) -> Action:
        for forced in self._forced:
            if forced.times > 0 and forced.ins in (None, ins):
                forced.times -= 1
                self._forced = [f for f in self._forced if f.times > 0]
                return Action("sw", forced.sw)
        return NONE


def _non_negative(value: int, name: str) -> int:
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return value
