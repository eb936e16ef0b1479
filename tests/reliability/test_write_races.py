"""Writes racing each other and reads on the real daemon through pcscd + vpcd (issue 11, points 8
and 9): two requests with one Idempotency-Key at the same moment give the same answer and write
once; a write queued behind running reads gets the reader instead of READER_BUSY, however many
clients keep polling."""

from __future__ import annotations

import concurrent.futures
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.vpcd import VpcdBridge

from .daemon import DaemonProcess, fresh_daemon, served_blank_card
from .test_daemon_faults import card_url, issue

pytestmark = pytest.mark.pcsc

SERIAL = "52503100000000F1"
POLLERS = 30


@pytest.fixture
def card(pcscd, tmp_path: Path) -> Iterator[tuple[VpcdBridge, str]]:
    with served_blank_card(tmp_path, SERIAL, seed=5) as served:
        yield served


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with fresh_daemon(tmp_path, env={"CARDSERVICE_WRITE_WAIT": "10"}) as proc:
        yield proc


def test_same_idempotency_key_at_once_gives_one_answer(card, daemon):
    bridge, reader = card
    with daemon.client() as client:
        issue(client, reader)
        updates = bridge.card.update_count
        start = threading.Barrier(2)

        def post(residence: str):
            start.wait()
            return client.post(card_url(reader, "resign"), content=residence.encode(),
                               headers={"Idempotency-Key": "move-1",
                                        "Content-Type": "application/json"})

        bodies = [json.dumps({"current_residence": "示范县新区8号", "card_serial": SERIAL}),
                  json.dumps({"card_serial": SERIAL, "current_residence": "示范县新区8号"},
                             ensure_ascii=False, indent=1)]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, bodies))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert answers[0].json() == answers[1].json()
        assert bridge.card.update_count == updates + 1, "the card was written twice"
        assert client.get(card_url(reader)).json()["residence"]["sequence"] == 2


def test_a_write_is_not_starved_by_polling_readers(card, daemon):
    _bridge, reader = card
    stop = threading.Event()
    with daemon.client() as client:
        issue(client, reader)

        def poll() -> None:
            with daemon.client() as poller:
                while not stop.is_set():
                    poller.get(card_url(reader))

        threads = [threading.Thread(target=poll) for _ in range(POLLERS)]
        for thread in threads:
            thread.start()
        try:
            codes = []
            for n in range(5):
                r = client.post(card_url(reader, "resign"),
                                json={"current_residence": f"示范县新区{n}号", "card_serial": SERIAL})
                codes.append(r.status_code if r.status_code == 200 else r.json()["error"]["code"])
        finally:
            stop.set()
            for thread in threads:
                thread.join(20)
        assert codes == [200] * 5, codes
        assert client.get(card_url(reader)).json()["residence"]["sequence"] == 6
