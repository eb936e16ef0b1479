"""A reader never stays wedged (issue 11, point 1): the real daemon (uvicorn) through pcscd + vpcd,
a card pulled and put back in every phase of an operation (idle between requests, between the
APDUs of a read, inside a write's transaction, while a client keeps polling, and swapped for
another card); once pcscd reports the card back, the next request succeeds."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from simulator.card import VirtualCard
from simulator.vpcd import VpcdBridge
from tests.conftest import wait_card_state

from .daemon import DaemonProcess, blank_image, fresh_daemon, served_blank_card, wait_until
from .test_daemon_faults import card_ready, card_url, issue

pytestmark = pytest.mark.pcsc

SERIAL = "52503100000000C1"
OTHER_SERIAL = "52503100000000C2"
#: While the card is out or just lost power, a request may fail with one of these (retriable).
OUT_CODES = {"NO_CARD", "CARD_REMOVED", "CARD_RESET", "CARD_TIMEOUT", "WRITE_NOT_CONFIRMED"}


@pytest.fixture
def card(pcscd, tmp_path: Path) -> Iterator[tuple[VpcdBridge, str]]:
    with served_blank_card(tmp_path, SERIAL, seed=3) as (bridge, reader):
        bridge.reinsert_delay = 1.5
        yield bridge, reader


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with fresh_daemon(tmp_path) as proc:
        yield proc


def _back(reader: str, *, was_out: bool = True) -> None:
    """Wait until pcscd has seen the card go (power cut: out for ``reinsert_delay``) and come
    back answering."""
    if was_out:
        assert wait_card_state(reader, present=False, timeout=5), "pcscd never saw the card go"
    wait_until(lambda: card_ready(reader), 30, "pcscd to report the card back")


def _read_ok(client: httpx.Client, reader: str, serial: str = SERIAL) -> dict:
    r = client.get(card_url(reader))
    assert r.status_code == 200, r.text
    assert r.json()["card_serial"] == serial.lower()
    return r.json()


def _out(r: httpx.Response) -> None:
    assert r.status_code in (409, 504), r.text
    assert r.json()["error"]["code"] in OUT_CODES, r.text
    assert r.json()["error"]["retriable"] is True


def test_pulled_while_idle_then_reinserted(card, daemon):
    bridge, reader = card
    with daemon.client() as client:
        _read_ok(client, reader)
        bridge.remove()
        assert wait_card_state(reader, present=False)
        for _ in range(3):
            _out(client.get(card_url(reader)))
        bridge.insert()
        _back(reader, was_out=False)
        _read_ok(client, reader)
        assert daemon.health()["status"] == "ok"


def test_pulled_between_apdus_of_a_read(card, daemon):
    bridge, reader = card
    with daemon.client() as client:
        _read_ok(client, reader)
        for after in (0, 1, 2, 3):  # lose power on the 1st..4th APDU of the read
            bridge.card.faults.cut_power_after(after)
            _out(client.get(card_url(reader)))
            _back(reader)
            _read_ok(client, reader)


def test_pulled_inside_a_write_transaction(card, daemon):
    bridge, reader = card
    with daemon.client() as client:
        issue(client, reader)
        bridge.card.faults.cut_power_in_update(1, 10)
        r = client.post(card_url(reader, "resign"),
                        json={"current_residence": "示范县新区8号", "card_serial": SERIAL})
        _out(r)
        _back(reader)
        card_json = _read_ok(client, reader)
        assert card_json["verification"]["status"] == "valid"
        r = client.post(card_url(reader, "resign"),
                        json={"current_residence": "示范县新区9号", "card_serial": SERIAL})
        assert r.status_code == 200, r.text


def test_write_landed_then_power_lost_is_not_reported_as_removed(card, daemon):
    """The whole UPDATE lands, then the card loses power before answering: the daemon cannot
    know, so it says WRITE_NOT_CONFIRMED with the intent id (not CARD_REMOVED); once the card
    is back the intent settles as what the card holds, and the registry agrees."""
    bridge, reader = card
    bridge.reinsert_delay = 3.0
    with daemon.client() as client:
        issue(client, reader)
        bridge.card.faults.cut_power_in_update(1, 10_000)  # every byte lands, no answer
        r = client.post(card_url(reader, "resign"),
                        json={"current_residence": "示范县新区8号", "card_serial": SERIAL})
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "WRITE_NOT_CONFIRMED" and error["retriable"] is True
        intent = error["intent_id"]
        assert client.get("/v1/audit/verify").json()["pending_intents"] == [intent]
        _back(reader)
        wait_until(lambda: not client.get("/v1/audit/verify").json()["pending_intents"], 15,
                   "the intent to settle")
        outcome = [e for e in client.get("/v1/audit", params={"card_serial": SERIAL.lower()})
                   .json() if e["intent_id"] == intent]
        card_json = _read_ok(client, reader)
        assert card_json["verification"]["status"] == "valid"
        # the intent settles as what the card holds (here nearly always the new record; under
        # load pcscd may lose the UPDATE itself with the power)
        landed = card_json["residence"]["sequence"] == 2
        assert [e["outcome"] for e in outcome] == [
            "reconciled_success" if landed else "reconciled_failure"], outcome
        registry = client.get(f"/v1/cards/{SERIAL}").json()
        assert registry["last_sequence"] == card_json["residence"]["sequence"]


def _unix_sockets(daemon: DaemonProcess) -> int:
    """The daemon's Unix sockets: one per PC/SC context it holds (pcscd counts them and refuses
    more than 200 contexts machine-wide)."""
    return len(psutil.Process(daemon.process.pid).net_connections(kind="unix"))


def test_pulled_while_a_client_keeps_polling(card, daemon):
    """Three pulls and re-inserts under a client that polls without pause. Each poll of the
    empty reader is a failed PC/SC connect; these once kept their context, so a hundred polls
    per pull held a hundred pcscd contexts until pcscd refused every client on the machine
    (this test then timed out waiting for the card, which looked like a mute card)."""
    bridge, reader = card
    stop, answers = threading.Event(), []

    def poll() -> None:
        with daemon.client() as client:
            while not stop.is_set():
                answers.append(client.get(card_url(reader)).status_code)

    with daemon.client() as client:
        _read_ok(client, reader)
        sockets = _unix_sockets(daemon)
        poller = threading.Thread(target=poll)
        poller.start()
        try:
            for _ in range(3):
                time.sleep(0.3)
                bridge.remove()
                time.sleep(0.5)
                bridge.insert()
                _back(reader, was_out=False)
                time.sleep(0.3)
        finally:
            stop.set()
            poller.join(20)
        _back(reader, was_out=False)
        _read_ok(client, reader)
        assert _unix_sockets(daemon) <= sockets + 2, "PC/SC contexts leaked"
    assert 200 in answers and any(s != 200 for s in answers), answers


def test_card_swapped_for_another(card, daemon, tmp_path: Path):
    bridge, reader = card
    with daemon.client() as client:
        _read_ok(client, reader)
        bridge.remove()
        assert wait_card_state(reader, present=False)
        bridge.card = VirtualCard(blank_image(tmp_path, OTHER_SERIAL), random.Random(4))
        bridge.insert()
        _back(reader, was_out=False)
        _read_ok(client, reader, OTHER_SERIAL)
