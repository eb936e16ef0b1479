"""Faults against the real daemon process (uvicorn, `cardservice serve`) through pcscd + vpcd:
a mute card, a card removed mid-write, the daemon killed with SIGKILL mid-write, and pcscd
stopped and restarted under it. Nothing is lost: the card reads valid, the pending audit intent
is reconciled with what the card holds, and the registry agrees."""

from __future__ import annotations

import concurrent.futures
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from cardservice.store.audit import AuditLog
from cardservice.transport.readers import reader_id
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.vpcd import VpcdBridge
from tests.conftest import serve_card, wait_card_state

from .daemon import DaemonProcess, make_home, wait_until

pytestmark = pytest.mark.pcsc

SERIALS = ("52503100000000B1", "52503100000000B2")
CITIZEN = {"name": "王五", "gender": "male", "nationality": "01",
           "citizen_number": "110105199001011232", "household_address": "北京市东城区1号"}
#: APDUs of a re-sign up to and including its UPDATE: SELECT, READ BINARY (EF.ID), INTERNAL
#: AUTHENTICATE, 2 READ BINARY, GET DATA, GET CHALLENGE, EXTERNAL AUTHENTICATE, UPDATE BINARY
#: (slot B was empty: no ERASE follows).
RESIGN_APDUS_TO_UPDATE = 9


@pytest.fixture
def cards(pcscd, tmp_path: Path) -> Iterator[list[tuple[VpcdBridge, str]]]:
    served = []
    try:
        for n, serial in enumerate(SERIALS):
            image = CardImage.blank(bytes.fromhex(serial), load_dev_master_keys(),
                                    tmp_path / f"card{n}.json")
            image.save()
            served.append(serve_card(VirtualCard(image.path, random.Random(n))))
        yield served
    finally:
        for bridge, reader in served:
            bridge.stop()
            wait_card_state(reader, present=False)


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "home", make_home(tmp_path / "home")


@pytest.fixture
def daemon(home, tmp_path: Path) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(home[0], home[1], tmp_path / "daemon.log").start()
    try:
        yield proc
    finally:
        proc.stop()


def card_ready(reader: str) -> bool:
    """pcscd reports a card in ``reader`` that is not mute (it answered its power-up)."""
    from smartcard import scard

    from tests.conftest import _states

    state = _states([reader]).get(reader, 0)
    return bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE


def card_url(reader: str, action: str | None = None) -> str:
    base = f"/v1/readers/{reader_id(reader)}/card"
    return f"{base}/{action}" if action else base


def issue(client, reader: str) -> dict:
    serial = client.get(card_url(reader)).json()["card_serial"]  # the blank card as read
    r = client.post(card_url(reader, "issue"), json={
        "identity": CITIZEN, "card_serial": serial,
        "residence": {"current_residence": "示范县城关镇1号", "permit_type": "temporary"}})
    assert r.status_code == 200, r.text
    return r.json()


def resign(client, reader: str, serial: str):
    return client.post(card_url(reader, "resign"),
                       json={"current_residence": "示范县新区8号", "card_serial": serial})


def outcomes_of(client, serial: str) -> list[dict]:
    entries = client.get("/v1/audit", params={"card_serial": serial.lower()}).json()
    return [e for e in entries if e["kind"] == "outcome"]


def pending(client) -> list[int]:
    return client.get("/v1/audit/verify").json()["pending_intents"]


def test_mute_card_times_out_while_other_reader_and_health_answer(cards, daemon):
    (bridge_a, reader_a), (_bridge_b, reader_b) = cards
    with daemon.client() as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        bridge_a.card.faults.mute()
        started = time.monotonic()
        hung = pool.submit(client.get, card_url(reader_a))
        time.sleep(0.3)
        other, health = client.get(card_url(reader_b)), client.get("/v1/health")
        other_done = time.monotonic() - started
        r = hung.result(timeout=20)
        elapsed = time.monotonic() - started
        assert other.status_code == 200, other.text
        assert other_done < 3.0, "the other reader waited for the mute one"
        assert health.status_code == 200 and health.json()["pcsc_available"] is True
        assert r.status_code == 504 and r.json()["error"]["code"] == "CARD_TIMEOUT", r.text
        assert elapsed < 4 + 2, f"504 after {elapsed:.1f} s (operation timeout 4 s)"
        bridge_a.unmute()  # the card answers again (re-inserted): the reader recovers
        wait_until(lambda: client.get(card_url(reader_a)).status_code == 200, 15,
                   "reader A to work again")


def test_card_removed_mid_write_is_reported_then_reconciled(cards, daemon):
    (bridge, reader), _ = cards
    serial = SERIALS[0]
    with daemon.client() as client:
        issue(client, reader)
        bridge.reinsert_delay = 3.0  # the card stays out long enough to see the intent pending
        bridge.card.faults.cut_power_in_update(1, 20)
        r = resign(client, reader, serial)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "WRITE_NOT_CONFIRMED"  # what is known: not settled
        assert r.json()["error"]["retriable"] is True
        assert pending(client) == [r.json()["error"]["intent_id"]], \
            "the interrupted write stays pending while the card is out"
        wait_until(lambda: not pending(client), 15, "the intent to be reconciled on re-insertion")
        last = outcomes_of(client, serial)[0]
        assert last["outcome"] == "reconciled_failure"  # 20 bytes of the new slot: torn, old holds
        card = client.get(card_url(reader)).json()
        assert card["verification"]["status"] == "valid"
        assert card["residence"]["sequence"] == 1
        assert client.get(f"/v1/cards/{serial}").json()["last_sequence"] == 1
        assert client.get("/v1/audit/verify").json()["ok"] is True


def test_sigkill_mid_write_then_restart_reconciles(pcscd, cards, daemon, home):
    """Needs a pcscd this session owns: the killed client leaves pcscd's reader wedged."""
    if not pcscd.started:
        pytest.skip("pcscd was already running (shared): a wedged reader there would hurt others")
    (bridge, reader), _ = cards
    serial = SERIALS[0]
    with daemon.client() as client:
        issue(client, reader)
        updates = bridge.card.update_count
        bridge.card.faults.mute(RESIGN_APDUS_TO_UPDATE)  # the UPDATE lands, then no answer
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            hanging = pool.submit(resign, client, reader, serial)
            wait_until(lambda: bridge.card.faults.muted, 10, "the write to hang after UPDATE")
            assert bridge.card.update_count == updates + 1
            daemon.kill()
            with pytest.raises(httpx.TransportError):  # the connection died with the daemon
                hanging.result(timeout=10)
    audit = AuditLog(home[0] / "audit.db")
    try:
        assert len(audit.pending()) == 1, "the killed write left its intent pending"
    finally:
        audit.close()
    # Measured here: after a client is killed while pcscd waits on a mute vpcd card, that
    # reader stays EMPTY in pcscd even when the card re-connects; only a pcscd restart heals it.
    bridge.card.faults.unmute()
    pcscd.stop()
    pcscd.ensure()
    wait_until(lambda: card_ready(reader), 15, "the card back in its reader, answering")
    daemon.start()  # same data directory; its monitor reconciles the card it finds
    with daemon.client() as client:
        wait_until(lambda: not pending(client), 15, "the restarted daemon to reconcile")
        last = outcomes_of(client, serial)[0]
        card = client.get(card_url(reader)).json()
        assert card["verification"]["status"] == "valid"
        assert card["residence"]["sequence"] == 2  # the whole UPDATE had landed
        assert last["outcome"] == "reconciled_success" and last["sequence"] == 2
        assert client.get(f"/v1/cards/{serial}").json()["last_sequence"] == 2
        assert client.get("/v1/audit/verify").json()["ok"] is True


def _next_event(ws, type_: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event["type"] == type_:
            return event


def test_pcscd_restart_under_the_daemon(pcscd, cards, daemon):
    """Only when this test session started pcscd: never stop a pcscd that others use."""
    if not pcscd.started:
        pytest.skip("pcscd was already running (shared): restart it only when the session owns it")
    (_bridge, reader), _ = cards
    ws_url = daemon.url.replace("http://", "ws://") + "/v1/events"
    with daemon.client() as client, ws_connect(
            ws_url, additional_headers={"Authorization": f"Bearer {daemon.secret}"}) as ws:
        assert json.loads(ws.recv(timeout=5))["pcsc_available"] is True
        pcscd.stop()
        down = _next_event(ws, "pcsc_unavailable")
        assert down["code"] == "PCSC_UNAVAILABLE"
        assert daemon.health() == {**daemon.health(), "status": "degraded",
                                   "pcsc_available": False}
        r = client.get("/v1/readers")
        assert r.status_code == 503 and r.json()["error"]["code"] == "PCSC_UNAVAILABLE"
        pcscd.ensure()
        _next_event(ws, "pcsc_available")
        assert daemon.health()["pcsc_available"] is True
        assert wait_card_state(reader, present=True, timeout=15.0), \
            "the card bridge did not reconnect to the new pcscd"
        r = wait_until(lambda: (x := client.get(card_url(reader))).status_code == 200 and x,
                       15, "reads to work again")
        assert r.json()["card_serial"] == SERIALS[0].lower()
