"""A tampered card whose serial is issued in the registry reads ``invalid``, never ``blank`` or
``unsigned`` (issue 11, point 10), through pcscd + vpcd and the real daemon: the card is issued
over HTTP, pulled, its image file altered (as a thief with a programming device would alter the
chip's memory) and put back."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from card_layout.files import Fid
from simulator.card import VirtualCard
from simulator.image import CardImage
from simulator.vpcd import VpcdBridge
from tests.conftest import wait_card_state

from .daemon import DaemonProcess, fresh_daemon, served_blank_card, wait_until
from .test_daemon_faults import CITIZEN, card_ready, card_url, issue

pytestmark = pytest.mark.pcsc

SERIAL = "52503100000000C3"


@pytest.fixture
def card(pcscd, tmp_path: Path) -> Iterator[tuple[VpcdBridge, str]]:
    with served_blank_card(tmp_path, SERIAL, seed=5) as served:
        yield served


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with fresh_daemon(tmp_path) as proc:
        yield proc


def _tamper_and_reinsert(bridge: VpcdBridge, reader: str, how: str) -> None:
    bridge.remove()
    assert wait_card_state(reader, present=False)
    image = CardImage.load(bridge.card.image.path)
    if how in ("slots_erased", "everything_erased"):  # signed records gone: reads unsigned
        for fid in (Fid.RES_A, Fid.RES_B):
            image.files[fid].length = 0
    if how == "everything_erased":  # identity gone and unlocked too: reads blank
        image.files[Fid.ID].length = 0
    if how in ("unlocked", "everything_erased"):
        image.locked = False
    image.save()
    bridge.card = VirtualCard(image.path, random.Random(6))
    bridge.insert()
    wait_until(lambda: card_ready(reader), 30, "pcscd to report the card back")


def test_tampered_issued_card_reads_invalid_through_pcscd(card, daemon):
    bridge, reader = card
    with daemon.client() as client:
        issue(client, reader)
        for how in ("slots_erased", "unlocked", "everything_erased"):
            _tamper_and_reinsert(bridge, reader, how)
            r = client.get(card_url(reader))
            assert r.status_code == 200, r.text
            verification = r.json()["verification"]
            assert verification["status"] == "invalid", (how, verification)
            failed = {c["check"]: c["reason"] for c in verification["checks"]
                      if c["result"] == "failed"}
            assert failed.get("format") == "issued_in_registry", (how, verification)
        # not a blank card to issue again
        r = client.post(card_url(reader, "issue"), json={
            "identity": CITIZEN, "card_serial": SERIAL,
            "residence": {"current_residence": "示范县城关镇1号", "permit_type": "temporary"}})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "ALREADY_PERSONALIZED", r.text
