"""No blind writes (issue 11, point 4), against the real daemon through pcscd + vpcd: every card
write names the card it was meant for (``card_serial``, the blank card's serial for an issue);
read card A, swap in card B, post: 409 CARD_CHANGED and card B is untouched."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.vpcd import VpcdBridge
from tests.api.conftest import ALICE
from tests.conftest import serve_card, wait_card_state

from .conftest import card_digest
from .daemon import DaemonProcess, fresh_daemon, wait_until
from .test_daemon_faults import CITIZEN, card_ready, card_url, issue

pytestmark = pytest.mark.pcsc

SERIAL_A, SERIAL_B = "52503100000000D1", "52503100000000D2"
RESIDENCE = {"current_residence": "示范县城关镇1号", "permit_type": "temporary"}


def _card(tmp_path: Path, serial: str, seed: int) -> VirtualCard:
    image = CardImage.blank(bytes.fromhex(serial), load_dev_master_keys(),
                            tmp_path / f"{serial}.json")
    image.save()
    return VirtualCard(image.path, random.Random(seed))


@pytest.fixture
def reader(pcscd, tmp_path: Path) -> Iterator[tuple[VpcdBridge, str]]:
    bridge, name = serve_card(_card(tmp_path, SERIAL_A, 1))
    try:
        yield bridge, name
    finally:
        bridge.stop()
        wait_card_state(name, present=False)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with fresh_daemon(tmp_path) as proc:
        yield proc


def _swap(bridge: VpcdBridge, reader: str, card: VirtualCard) -> None:
    bridge.remove()
    assert wait_card_state(reader, present=False)
    bridge.card = card
    bridge.insert()
    wait_until(lambda: card_ready(reader), 15, "the other card to be in the reader")


@pytest.mark.parametrize("action,body", [
    ("resign", {"current_residence": "示范县新区8号"}),
    ("renew", {"permit_type": "temporary"}),
])
def test_write_after_a_swap_is_refused(reader, daemon, tmp_path, action, body):
    bridge, name = reader
    other = _card(tmp_path, SERIAL_B, 2)
    with daemon.client() as client:
        issue(client, name)  # card A, issued and read
        a_view = client.get(card_url(name)).json()
        _swap(bridge, name, other)
        b = client.post(card_url(name, "issue"), json={  # card B: another holder's permit
            "identity": ALICE, "residence": RESIDENCE, "card_serial": SERIAL_B})
        assert b.status_code == 200, b.text
        before = card_digest(other)
        r = client.post(card_url(name, action), json={**body, "card_serial": a_view["card_serial"]})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "CARD_CHANGED"
        assert card_digest(other) == before
        missing = client.post(card_url(name, action), json=body)
        assert missing.status_code == 422 and missing.json()["error"]["field"] == "card_serial"
        assert card_digest(other) == before


def test_issue_names_the_blank_card(reader, daemon, tmp_path):
    bridge, name = reader
    other = _card(tmp_path, SERIAL_B, 2)
    with daemon.client() as client:
        assert client.get(card_url(name)).json()["card_serial"] == SERIAL_A.lower()
        _swap(bridge, name, other)
        before = card_digest(other)
        r = client.post(card_url(name, "issue"), json={
            "identity": CITIZEN, "residence": RESIDENCE, "card_serial": SERIAL_A})
        assert r.status_code == 409 and r.json()["error"]["code"] == "CARD_CHANGED", r.text
        assert card_digest(other) == before
        r = client.post(card_url(name, "issue"), json={"identity": CITIZEN,
                                                       "residence": RESIDENCE})
        assert r.status_code == 422 and r.json()["error"]["field"] == "card_serial"
        assert client.get(card_url(name)).json()["state"] == "blank"
