"""The only module of the bench that calls pyscard directly: reader states and the raw replay of
an APDU sequence (the floor the service's own PC/SC path is compared with)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from smartcard import scard

from .stats import Latency, Timer

logger = logging.getLogger(__name__)


def present_readers() -> set[str]:
    """Readers that hold a card, from pcscd's reader states (no card I/O)."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != 0:
        return set()
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        if hr != 0 or not readers:
            return set()
        hr, states = scard.SCardGetStatusChange(
            ctx, 0, [(r, scard.SCARD_STATE_UNAWARE) for r in readers])
        if hr != 0:
            return set()
        return {name for name, state, _ in states if state & scard.SCARD_STATE_PRESENT}
    finally:
        scard.SCardReleaseContext(ctx)


class RawReplay:
    """Replays ``apdus`` through one reader with bare SCardTransmit calls inside one
    transaction, as the service does, checking each answer ends in 90 00."""

    def __init__(self, reader: str, apdus: Sequence[bytes]) -> None:
        self.apdus = [list(a) for a in apdus]
        hr, self._ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _ok(hr, "establish context")
        hr, self._card, proto = scard.SCardConnect(
            self._ctx, reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        _ok(hr, f"connect {reader}")
        self._pci = scard.SCARD_PCI_T1 if proto == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0

    def once(self) -> int:
        """One replay; returns the response bytes received."""
        return sum(map(len, self._replay()))

    def answers(self) -> list[bytes]:
        """One replay, keeping each answer's data (without the status word)."""
        return [bytes(resp[:-2]) for resp in self._replay()]

    def _replay(self) -> list[list[int]]:
        _ok(scard.SCardBeginTransaction(self._card), "begin transaction")
        out = []
        try:
            for apdu in self.apdus:
                hr, resp = scard.SCardTransmit(self._card, self._pci, apdu)
                _ok(hr, "transmit")
                if resp[-2:] != [0x90, 0x00]:
                    raise RuntimeError(f"replay got SW {bytes(resp[-2:]).hex()}")
                out.append(resp)
        finally:
            scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
        return out

    def latency(self, n: int, *, warmup: int = 10, timer: Timer = time.perf_counter) -> Latency:
        from .stats import time_calls

        return time_calls(self.once, n, warmup=warmup, timer=timer)

    def close(self) -> None:
        scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(self._ctx)


def _ok(hresult: int, what: str) -> None:
    if hresult & 0xFFFFFFFF:
        raise RuntimeError(f"{what}: PC/SC error 0x{hresult & 0xFFFFFFFF:08X}")
