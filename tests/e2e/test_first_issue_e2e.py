"""The whole first-issue story through pcscd, vpcd and two real daemons on one PostgreSQL
database: submit at acceptance point site-a (receipt PDF checked), audit there, certify as
`certifier` at site-b (the county centre), produce 20 cards on 2 readers fed by
`cardsim serve --feeder`, hand over at site-a after reading the card, then re-sign it after a
move at site-b.

Both daemons run throughout, on one machine and one pcscd, each with its own readers
(CARDSERVICE_READERS): site-a its desk reader, site-b its two production readers. Without the
selection each daemon would watch the other's readers too and read every card inserted there,
which two sites' PCs never do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from card_layout.citizen import check_digit
from cardservice.pki.keys import DataDir, init_demo
from cardservice.store.stores import Stores
from cardservice.transport.readers import reader_id
from simulator.devkeys import load_dev_master_keys
from simulator.vpcd import reader_name_for_port
from tests.conftest import free_ports, wait_card_state
from tests.reliability.daemon import free_port, wait_until

pytestmark = pytest.mark.pcsc

CARDS = 20
PER_READER = CARDS // 2


@dataclass
class Daemon:
    site: str
    home: Path
    env: dict[str, str]
    port: int
    process: subprocess.Popen | None = None

    def start(self, log: Path) -> Daemon:
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from cardservice.cli.main import main; main()",
                 "--home", str(self.home), "serve", "--port", str(self.port)],
                stdout=subprocess.DEVNULL, stderr=out, env=self.env, start_new_session=True)
        wait_until(lambda: self._up(log), 30, f"daemon {self.site}")
        return self

    def _up(self, log: Path) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"daemon {self.site} exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/v1/health", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30,
                            headers={"Authorization": f"Bearer {token}"})

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def _citizen(n: int) -> str:
    first17 = f"1101051990{1 + n // 28:02d}{1 + n % 28:02d}{(n % 50) * 2 + 101:03d}"
    return first17 + check_digit(first17)


def _person(n: int) -> dict:
    return {"name": f"申请人{n:02d}", "gender": "male", "nationality": "01",
            "citizen_number": _citizen(n), "household_address": f"新疆博乐市青得里大街{n}号"}


def _homes(tmp_path: Path) -> tuple[Path, Path]:
    """Two data directories with the same demo keys (one county trust chain)."""
    a, b = tmp_path / "site-a", tmp_path / "site-b"
    init_demo(DataDir(a), now=datetime.now(UTC), masters=load_dev_master_keys())
    shutil.copytree(a, b)
    return a, b


def _feeder(folder: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--feeder", str(folder),
                             "--count", str(PER_READER), "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    assert wait_card_state(reader_name_for_port(port), present=True, timeout=10.0)
    return proc


@pytest.fixture
def county(pcscd, pg_cluster, tmp_path: Path):
    url = pg_cluster.new_database("firstissue")
    home_a, home_b = _homes(tmp_path)
    Stores(home_a, database_url=url, site_id="site-a").upgrade()
    tokens = Stores(home_a, database_url=url, site_id="site-a").tokens()
    now = datetime.now(UTC)
    secrets = {role: tokens.create(f"e2e-{role}", role, now)[0]
               for role in ("operator", "certifier", "admin")}
    base = {**os.environ, "CARDSERVICE_DATABASE_URL": url,
            "CARDSERVICE_PCSC_TIMEOUT": "3", "CARDSERVICE_OPERATION_TIMEOUT": "10"}
    ports = free_ports()[::-1]  # the last first: wedging tests take the first
    assert len(ports) >= 3, "needs three free virtual readers"
    desk, production = ports[2], ports[:2]

    def own(*port: int) -> str:
        return json.dumps([reader_name_for_port(p) for p in port])

    daemons = [Daemon("site-a", home_a, {**base, "CARDSERVICE_SITE_ID": "site-a",
                                         "CARDSERVICE_READERS": own(desk)}, free_port()),
               Daemon("site-b", home_b, {**base, "CARDSERVICE_SITE_ID": "site-b",
                                         "CARDSERVICE_READERS": own(*production)}, free_port())]
    try:
        for d in daemons:
            d.start(tmp_path / f"{d.site}.log")
        yield daemons[0], daemons[1], secrets, desk, production
    finally:
        for d in daemons:
            d.stop()


@contextmanager
def _served(image: Path, port: int) -> Iterator[None]:
    """``image`` served (``cardsim serve``) into the empty reader of vpcd ``port``; taken out
    at the end."""
    reader = reader_name_for_port(port)
    assert wait_card_state(reader, present=False, timeout=10.0)
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve", str(image), "--port",
                             str(port)], stderr=subprocess.DEVNULL)
    try:
        assert wait_card_state(reader, present=True, timeout=10.0)
        yield
    finally:
        proc.terminate()
        proc.wait(10)
    assert wait_card_state(reader, present=False, timeout=10.0)


def _wait_run(client: httpx.Client, run_id: str, timeout: float) -> dict:
    def finished():
        run = client.get(f"/v1/production/runs/{run_id}").json()
        return run if run["state"] != "running" else None
    return wait_until(finished, timeout, "the production run", interval=0.5)


def test_first_issue_through_pcscd_with_two_daemons_on_postgresql(county, tmp_path: Path):
    site_a, site_b, secrets, desk, ports = county
    clerk, certifier = site_a.client(secrets["operator"]), site_b.client(secrets["certifier"])
    clerk_b = site_b.client(secrets["operator"])
    residence = {"current_residence": "示范县城关镇幸福路1号", "permit_type": "temporary"}

    # 1. submit at site-a, receipt checked
    ids = []
    for n in range(CARDS):
        r = clerk.post("/v1/applications", json={"identity": _person(n), "residence": residence})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        assert r.json()["site"] == "site-a" and r.json()["due_on"]
    pdf = clerk.get(f"/v1/applications/{ids[0]}/receipt.pdf")
    (tmp_path / "receipt.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "receipt.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert ids[0] in text and "申请人00" in text and "110105********" in text
    png = subprocess.run(["pdftoppm", "-r", "50", "-png", "-singlefile",
                          str(tmp_path / "receipt.pdf"), str(tmp_path / "receipt")], check=True)
    assert png.returncode == 0 and (tmp_path / "receipt.png").stat().st_size > 1000

    # 2. audit at site-a; 3. certify at site-b (the county centre) as certifier
    for app_id in ids:
        assert clerk.post(f"/v1/applications/{app_id}/audit",
                          json={"decision": "approve"}).status_code == 200
        assert clerk_b.post(f"/v1/applications/{app_id}/certify",
                            json={"decision": "approve"}).status_code == 403
        r = certifier.post(f"/v1/applications/{app_id}/certify", json={"decision": "approve"})
        assert r.json()["status"] == "certified", r.text

    # 4. produce 20 cards on site-b's 2 readers fed by the card feeder
    feeders = [_feeder(tmp_path / f"stack-{p}", p) for p in ports[:2]]
    readers = [reader_name_for_port(p) for p in ports[:2]]
    try:
        started = time.monotonic()
        r = certifier.post("/v1/production/runs", json={"readers": readers, "card_wait": 20})
        assert r.status_code == 202, r.text
        run = _wait_run(certifier, r.json()["id"], timeout=300)
        seconds = time.monotonic() - started
    finally:
        logs = []
        for f in feeders:
            f.terminate()
            logs.append(f.communicate(timeout=10)[1])
    assert (run["state"], run["done"], run["failed"]) == ("finished", CARDS, 0), (run, logs)
    print(f"\nproduced {CARDS} cards on 2 readers in {seconds:.1f} s")
    assert [r["name"] for r in clerk.get("/v1/readers").json()] == [reader_name_for_port(desk)]
    apps = [clerk.get(f"/v1/applications/{i}").json() for i in ids]
    serials = [a["card_serial"] for a in apps]
    assert {a["status"] for a in apps} == {"produced"} and len(set(serials)) == CARDS
    assert clerk.get(f"/v1/cards/{serials[0]}").json()["status"] == "produced"

    # 5. hand over at site-a: the card goes into its desk reader, is read and matched
    image = next((tmp_path / f"stack-{ports[0]}").glob("feeder-0001.json"))
    desk_reader = reader_name_for_port(desk)
    with _served(image, desk):
        card = clerk.get(f"/v1/readers/{reader_id(desk_reader)}/card").json()
        first = next(a for a in apps if a["card_serial"] == card["card_serial"])
        other = next(a for a in apps if a["id"] != first["id"])
        r = clerk.post(f"/v1/applications/{other['id']}/hand-over",
                       json={"card_serial": card["card_serial"]})
        assert r.json()["error"]["code"] == "CARD_CHANGED"
        r = clerk.post(f"/v1/applications/{first['id']}/hand-over",
                       json={"card_serial": card["card_serial"]})
        assert r.json()["status"] == "handed_over", r.text
        assert clerk.get(f"/v1/cards/{card['card_serial']}").json()["status"] == "active"
        # site-b's daemon neither lists nor reaches site-a's desk reader
        assert clerk_b.get(f"/v1/readers/{reader_id(desk_reader)}/card").status_code == 404

    # 6. re-sign after a move at the other site (same database), in one of its readers:
    # expiry kept
    expiry = card["residence"]["expires_on"]
    with _served(image, ports[0]):
        r = clerk_b.post(f"/v1/readers/{reader_id(readers[0])}/card/resign", json={
            "current_residence": "示范县新城街道和平路12号",
            "card_serial": card["card_serial"]})
        assert r.status_code == 200, r.text
        assert r.json()["residence"]["expires_on"] == expiry
        assert r.json()["residence"]["sequence"] == 2
    row = clerk.get(f"/v1/cards/{card['card_serial']}").json()
    assert row["last_sequence"] == 2
    shown = clerk.get(f"/v1/applications/{first['id']}").json()
    assert [d["site"] for d in shown["decisions"]] == ["site-a", "site-a", "site-b", "site-b",
                                                       "site-a"]
