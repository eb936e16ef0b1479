"""Session-wide fixtures: a running pcscd, and a virtual RP1 card served into a vpcd reader.

Sub-folders add their own fixtures in their own conftest.py files.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.vpcd import VpcdBridge, reader_name_for_port
from tests.pcscd import Pcscd

#: The reader a served card normally appears in (vpcd port 35963).
READER = "Virtual PCD 00 00"
#: vpcd ports tried in order (override: CARDSIM_VPCD_PORTS=35965,35966). Measured here: with a
#: second vpcd config loaded (CHANNELID 0x8C7D), pcscd's vpcd driver mixes the two configs up
#: (the card connected on 35965 shows in "Virtual PCD 00 00" and "Virtual PCD B 00 00", and
#: 35963 is never accepted), so the fixture finds the (port, reader) pair that works.
CANDIDATE_PORTS = tuple(int(p) for p in os.environ.get(
    "CARDSIM_VPCD_PORTS", "35963,35964,35965,35966").split(","))
_working: list[tuple[int, str]] = []


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    daemon = Pcscd()
    daemon.ensure()
    yield daemon
    daemon.stop()


def present_readers() -> set[str]:
    """Readers that hold a card, from pcscd's reader states (no card I/O, so a mute card in
    another reader cannot block it)."""
    from smartcard.scard import (
        SCARD_SCOPE_USER,
        SCARD_STATE_PRESENT,
        SCARD_STATE_UNAWARE,
        SCardEstablishContext,
        SCardGetStatusChange,
        SCardListReaders,
        SCardReleaseContext,
    )
    _, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    try:
        readers = SCardListReaders(ctx, [])[1] or []
        hr, states = SCardGetStatusChange(ctx, 0, [(r, SCARD_STATE_UNAWARE) for r in readers])
        return {name for name, state, _ in states if state & SCARD_STATE_PRESENT} if hr == 0 \
            else set()
    finally:
        SCardReleaseContext(ctx)


def new_reader(before: set[str], preferred: str, timeout: float = 3.0) -> str | None:
    """The reader that gained a card since ``before`` (``preferred`` if it is among them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = present_readers() - before
        if new:
            return preferred if preferred in new else min(new)
        time.sleep(0.1)
    return None


def _serve(card: VirtualCard, port: int) -> VpcdBridge:
    bridge = VpcdBridge(card, port=port, reinsert_delay=0.8).start()
    if not bridge.wait_connected(5.0):
        bridge.stop()
        raise RuntimeError(f"vpcd port {port} did not accept the card")
    return bridge


def serve_card(card: VirtualCard) -> tuple[VpcdBridge, str]:
    """Serve ``card`` on a vpcd port that works; return the bridge and the reader holding it."""
    for port in candidate_ports():
        before = present_readers()
        try:
            bridge = _serve(card, port)
        except RuntimeError:
            continue
        # a busy or dead vpcd port completes the TCP handshake but pcscd never talks
        accepted = bridge.accepted.wait(2.0)
        reader = new_reader(before, reader_name_for_port(port)) if accepted else None
        if reader is not None:
            _working[:] = [(port, reader)]
            return bridge, reader
        bridge.stop()
    raise RuntimeError(f"no vpcd port of {CANDIDATE_PORTS} brings a card into pcscd")


def candidate_ports() -> list[int]:
    """The port that worked last first, then the configured candidates."""
    return list(dict.fromkeys([p for p, _ in _working] + list(CANDIDATE_PORTS)))


@pytest.fixture
def vpcd_card(pcscd: Pcscd, tmp_path: Path) -> Iterator[tuple[str, Path, VpcdBridge]]:
    """A blank card image served into a vpcd reader: yields (reader name, image path, bridge).

    The bridge is the control handle: ``.card`` (VirtualCard, ``.faults``), ``.remove()``,
    ``.insert()``, ``.unmute()``.
    """
    path = tmp_path / "card.json"
    image = CardImage.blank(bytes.fromhex("52503100000000A1"), load_dev_master_keys(), path)
    image.save()
    bridge, reader = serve_card(VirtualCard(path, random.Random(7)))
    try:
        yield reader, path, bridge
    finally:
        bridge.stop()
        wait_card_state(reader, present=False)  # so the next test starts from an empty reader


def wait_card_state(reader: str, present: bool, timeout: float = 5.0) -> bool:
    """Wait until pcscd reports a card in ``reader`` (or none); False on timeout."""
    from smartcard.scard import (
        SCARD_SCOPE_USER,
        SCARD_STATE_PRESENT,
        SCARD_STATE_UNAWARE,
        SCardEstablishContext,
        SCardGetStatusChange,
        SCardReleaseContext,
    )
    _, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    try:
        deadline = time.monotonic() + timeout
        state = SCARD_STATE_UNAWARE
        while time.monotonic() < deadline:
            hr, states = SCardGetStatusChange(ctx, 200, [(reader, state)])
            if hr == 0:
                state = states[0][1] & ~0xFFFF0000 & ~0x2  # drop event count and CHANGED
                if bool(states[0][1] & SCARD_STATE_PRESENT) == present:
                    return True
        return False
    finally:
        SCardReleaseContext(ctx)

