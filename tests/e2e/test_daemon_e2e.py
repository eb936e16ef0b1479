"""The daemon as a real uvicorn process, with pcscd and `cardsim serve`: issue -> read -> resign
over HTTP, and card_removed / card_inserted on the WebSocket when the card is pulled and put back."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from cardservice.pki.keys import DataDir, init_demo
from cardservice.store.tokens import TokenStore
from simulator.control import control_path, send_control
from simulator.devkeys import load_dev_master_keys
from tests.conftest import serve_image_process

pytestmark = pytest.mark.pcsc
SERIAL = "52503100000000E5"
CITIZEN = {"name": "王五", "gender": "male", "nationality": "01",
           "citizen_number": "110105199001011232", "household_address": "北京市东城区1号"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Served:
    reader: str
    image: Path
    process: subprocess.Popen


@pytest.fixture
def served_card(pcscd, tmp_path: Path) -> Iterator[Served]:
    image = tmp_path / "card.json"
    cardsim = [sys.executable, "-m", "simulator"]
    subprocess.run([*cardsim, "new", str(image), "--serial", SERIAL], check=True)
    proc = None
    try:
        proc, reader = serve_image_process(image)
        yield Served(reader, image, proc)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(5)
    time.sleep(0.6)  # let pcscd notice the removal


@pytest.fixture(params=["files", "pkcs11"])
def daemon_url(request, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The daemon with the demo keys as files, or in a SoftHSM token (it inherits the
    CARDSERVICE_PKCS11_* environment; the PIN must appear nowhere in its log)."""
    home = tmp_path / "home"
    now = datetime.now(UTC)
    token = request.getfixturevalue("pkcs11_token") if request.param == "pkcs11" else None
    init_demo(DataDir(home), now=now, masters=load_dev_master_keys(), token=token)
    secret, _ = TokenStore(home / "tokens.db").create("e2e", "operator", now)
    port = _free_port()
    log = (tmp_path / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cardservice.cli.main import main; main()", "--home", str(home),
         "serve", "--port", str(port), "--log-format", "json"], stderr=log)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up, 15, "the daemon to answer")
        yield url, secret
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    text = (tmp_path / "daemon.log").read_text()
    if token is not None:
        assert token.pin_file.read_text().strip() not in text
    lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    assert any(x.get("path") == "/v1/health" and x.get("status") == 200 for x in lines)


def _reader_id(client: httpx.Client, name: str) -> str:
    readers = client.get("/v1/readers").json()
    return next(r["id"] for r in readers if r["name"] == name)


def test_issue_read_resign_over_http(served_card: Served, daemon_url):
    url, secret = daemon_url
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"},
                      timeout=20) as client:
        rid = _reader_id(client, served_card.reader)
        blank = client.get(f"/v1/readers/{rid}/card")
        assert blank.status_code == 200, blank.text
        assert blank.json()["state"] == "blank" and blank.json()["card_serial"] == SERIAL.lower()
        issued = client.post(f"/v1/readers/{rid}/card/issue", json={
            "identity": CITIZEN,
            "residence": {"current_residence": "示范县城关镇1号", "permit_type": "temporary"},
            "card_serial": SERIAL})
        assert issued.status_code == 200, issued.text
        read = client.get(f"/v1/readers/{rid}/card").json()
        assert read["verification"]["status"] == "valid"
        assert read["identity"]["citizen_number"] == CITIZEN["citizen_number"]
        resigned = client.post(f"/v1/readers/{rid}/card/resign",
                               json={"current_residence": "示范县新区8号", "card_serial": SERIAL})
        assert resigned.status_code == 200, resigned.text
        assert resigned.json()["residence"]["sequence"] == 2
        again = client.get(f"/v1/readers/{rid}/card").json()
        assert again["residence"]["current_residence"] == "示范县新区8号"
        assert again["verification"]["status"] == "valid"


def _next_for(ws, reader: str, type_: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event["type"] == type_ and event.get("reader") == reader:
            return event


def test_card_events_on_websocket(served_card: Served, daemon_url):
    url, secret = daemon_url
    ws_url = url.replace("http://", "ws://") + "/v1/events"
    with ws_connect(ws_url, additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello"
        assert served_card.reader in {r["reader"] for r in hello["readers"]}
        assert send_control(control_path(served_card.image), "remove").startswith("ok")
        removed = _next_for(ws, served_card.reader, "card_removed")
        assert send_control(control_path(served_card.image), "insert").startswith("ok")
        inserted = _next_for(ws, served_card.reader, "card_inserted")
    assert removed["reader_id"] == inserted["reader_id"]
    assert inserted["atr_hex"]
