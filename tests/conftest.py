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
from simulator.vpcd import VpcdBridge
from tests.pcscd import Pcscd, vpcd_listening

#: The reader the served card must appear in.
READER = "Virtual PCD 00 00"
#: vpcd ports tried in order. pcscd names readers by config file; when a second vpcd config with
#: the same FRIENDLYNAME is loaded first, "Virtual PCD 00 00" is that file's first port.
CANDIDATE_PORTS = tuple(int(p) for p in os.environ.get("CARDSIM_VPCD_PORTS",
                                                        "35963,35965").split(","))
_resolved_port: list[int] = []


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    daemon = Pcscd()
    daemon.ensure()
    yield daemon
    daemon.stop()


def _card_seen_in_reader(serial: bytes, timeout: float = 3.0) -> bool:
    """True when READER holds a card whose GET DATA answers ``serial``."""
    from smartcard.scard import (
        SCARD_LEAVE_CARD,
        SCARD_PROTOCOL_T1,
        SCARD_SCOPE_USER,
        SCARD_SHARE_SHARED,
        SCardConnect,
        SCardDisconnect,
        SCardEstablishContext,
        SCardReleaseContext,
        SCardTransmit,
    )
    _, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hr, handle, proto = SCardConnect(ctx, READER, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)
            if hr == 0:
                _, resp = SCardTransmit(handle, proto, list(bytes.fromhex("FFCA000000")))
                SCardDisconnect(handle, SCARD_LEAVE_CARD)
                return bytes(resp[:-2]) == serial
            time.sleep(0.1)
        return False
    finally:
        SCardReleaseContext(ctx)


def _serve(card: VirtualCard, port: int) -> VpcdBridge:
    bridge = VpcdBridge(card, port=port, reinsert_delay=0.8).start()
    if not bridge.wait_connected(5.0):
        bridge.stop()
        raise RuntimeError(f"vpcd port {port} did not accept the card")
    return bridge


def _serve_in_reader(card: VirtualCard) -> VpcdBridge:
    """Serve ``card`` on the vpcd port that pcscd names READER (probed once per session)."""
    for port in _resolved_port or [p for p in CANDIDATE_PORTS if vpcd_listening(p)]:
        bridge = _serve(card, port)
        if _resolved_port or _card_seen_in_reader(card.image.serial):
            _resolved_port[:] = [port]
            return bridge
        bridge.stop()
    raise RuntimeError(f"no vpcd port of {CANDIDATE_PORTS} shows up as {READER!r}")


@pytest.fixture
def vpcd_card(pcscd: Pcscd, tmp_path: Path) -> Iterator[tuple[str, Path, VpcdBridge]]:
    """A blank card image served into READER: yields (reader name, image path, bridge).

    The bridge is the control handle: ``.card`` (VirtualCard, ``.faults``), ``.remove()``,
    ``.insert()``, ``.unmute()``.
    """
    path = tmp_path / "card.json"
    image = CardImage.blank(bytes.fromhex("52503100000000A1"), load_dev_master_keys(), path)
    image.save()
    bridge = _serve_in_reader(VirtualCard(path, random.Random(7)))
    time.sleep(0.1)
    try:
        yield READER, path, bridge
    finally:
        bridge.stop()
        time.sleep(0.6)  # let pcscd notice the removal before the next test inserts a card

