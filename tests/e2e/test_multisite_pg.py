"""Two acceptance points on one county PostgreSQL registry: two real daemons (uvicorn processes)
with different site ids, each with its own simulated reader (pcscd + vpcd, `cardsim serve`).

* issue at A, re-sign at B after a move: B's write succeeds, A then reads it valid, sequence 2;
* the same citizen issued at A and B at the same moment: one active card, the other still blank,
  the loser gets CITIZEN_HAS_CARD;
* revoke at A, read at B: revoked;
* the database stops: reads verify offline, writes give REGISTRY_UNAVAILABLE and the card is
  unchanged; it comes back: writes work again, no daemon restart.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bench.stores import citizen
from cardservice.pki.keys import DataDir, init_demo
from cardservice.store.database import PostgresDatabase
from cardservice.store.tokens import TokenStore
from simulator.devkeys import load_dev_master_keys
from simulator.vpcd import reader_name_for_port
from tests.conftest import CANDIDATE_PORTS, free_ports, wait_card_state
from tests.e2e.test_daemon_e2e import _free_port, _wait
from tests.pg import PgCluster, upgrade_all

pytestmark = pytest.mark.pcsc

ALICE = {"name": "王五", "gender": "male", "nationality": "01",
         "citizen_number": "110105199001011232", "household_address": "北京市东城区1号"}
CAROL = {"name": "赵六", "gender": "female", "nationality": "01",
         "citizen_number": "11010519491231002X", "household_address": "北京市西城区2号"}
RESIDENCE = {"current_residence": "示范县城关镇1号", "permit_type": "temporary"}


class Card:
    """A card image served by `cardsim serve` into one vpcd port; ``move`` = pull and insert
    it into another reader."""

    def __init__(self, tmp: Path, serial: str) -> None:
        self.serial = serial
        self.image = tmp / f"card-{serial}.json"
        subprocess.run([sys.executable, "-m", "simulator", "new", str(self.image), "--serial",
                        serial], check=True)
        self.proc: subprocess.Popen | None = None
        self.reader: str | None = None

    def serve(self, port: int) -> str:
        self.stop()
        self.reader = reader_name_for_port(port)
        self.proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve",
                                      str(self.image), "--port", str(port)],
                                     stderr=subprocess.DEVNULL)
        assert wait_card_state(self.reader, present=True, timeout=10), self.reader
        return self.reader

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
            wait_card_state(self.reader, present=False)
        self.proc = None


class Daemon:
    """One site's daemon, on its own reader (CARDSERVICE_READERS), as each site's PC has its
    own: on this one machine the two daemons would otherwise both read every card inserted."""

    def __init__(self, tmp: Path, home: Path, site: str, url: str, reader: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {"PATH": "/usr/bin:/bin", "CARDSERVICE_HOME": str(home),
               "CARDSERVICE_DATABASE_URL": url, "CARDSERVICE_SITE_ID": site,
               "CARDSERVICE_READERS": json.dumps([reader]),
               # this test issues cards directly; the first-issue workflow has its own e2e test
               "CARDSERVICE_REQUIRE_APPLICATIONS": "false"}
        self.log = (tmp / f"daemon-{site}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "cardservice", "serve", "--port",
                                      str(self.port)], stderr=self.log, env=env)

    def up(self) -> bool:
        try:
            return httpx.get(f"{self.base}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"},
                            timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Iterator[PgCluster]:
    """A cluster of this module's own: the test stops and restarts it."""
    cluster = PgCluster()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def sites(pcscd, county, tmp_path) -> Iterator[dict]:
    if len(free_ports()) < 2:
        pytest.fail(f"two empty virtual readers needed on ports {CANDIDATE_PORTS}")
    url = county.new_database("county")
    owner = PostgresDatabase(url, site_id="county")
    upgrade_all(owner)
    now = datetime.now(UTC)
    operator, _ = TokenStore(owner).create("e2e operator", "operator", now)
    admin, _ = TokenStore(owner).create("e2e admin", "admin", now)
    owner.close()
    home_a = tmp_path / "site-a"
    init_demo(DataDir(home_a), now=now, masters=load_dev_master_keys())
    home_b = tmp_path / "site-b"
    shutil.copytree(home_a, home_b)  # one county authority in this test
    ports = free_ports()[:2]
    daemons = {"a": Daemon(tmp_path, home_a, "site-a", url, reader_name_for_port(ports[0])),
               "b": Daemon(tmp_path, home_b, "site-b", url, reader_name_for_port(ports[1]))}
    cards: list[Card] = []
    try:
        for daemon in daemons.values():
            _wait(daemon.up, 20, "the daemons to answer")
        yield {"daemons": daemons, "operator": operator, "admin": admin, "tmp": tmp_path,
               "ports": ports, "cards": cards, "cluster": county}
    finally:  # the daemons stop even if a card's removal is not seen by pcscd
        try:
            for card in cards:
                card.stop()
        finally:
            for daemon in daemons.values():
                daemon.stop()
            if not county.running:
                county.start()


def _rid(client: httpx.Client, reader: str) -> str:
    def listed() -> bool:
        return any(r["name"] == reader and r["card_present"]
                   for r in client.get("/v1/readers").json())

    _wait(listed, 10, f"{reader} with a card")
    return next(r["id"] for r in client.get("/v1/readers").json() if r["name"] == reader)


def _read(client: httpx.Client, reader: str) -> dict:
    response = client.get(f"/v1/readers/{_rid(client, reader)}/card")
    assert response.status_code == 200, response.text
    return response.json()


def _issue(client: httpx.Client, card: Card, who: dict) -> httpx.Response:
    return client.post(f"/v1/readers/{_rid(client, card.reader)}/card/issue",
                       json={"identity": who, "residence": RESIDENCE, "card_serial": card.serial})


def _resign(client: httpx.Client, card: Card, residence: str) -> httpx.Response:
    return client.post(f"/v1/readers/{_rid(client, card.reader)}/card/resign",
                       json={"current_residence": residence, "card_serial": card.serial})


def _check(card: dict, name: str) -> dict:
    return next(c for c in card["verification"]["checks"] if c["check"] == name)


def test_two_sites_share_one_registry(sites):
    a, b = sites["daemons"]["a"], sites["daemons"]["b"]
    port_a, port_b = sites["ports"]
    ca, cb = a.client(sites["operator"]), b.client(sites["operator"])
    admin_a = a.client(sites["admin"])
    assert [r["name"] for r in ca.get("/v1/readers").json()] == [reader_name_for_port(port_a)]
    assert [r["name"] for r in cb.get("/v1/readers").json()] == [reader_name_for_port(port_b)]

    # 1. issue at A, move, re-sign at B, move back: A reads it valid with sequence 2
    moving = Card(sites["tmp"], "5250310000000101")
    sites["cards"].append(moving)
    reader = moving.serve(port_a)
    first = _issue(ca, moving, ALICE)
    assert first.status_code == 200, first.text
    reader = moving.serve(port_b)
    resigned = _resign(cb, moving, "示范县新区8号")
    assert resigned.status_code == 200, resigned.text
    reader = moving.serve(port_a)
    seen = _read(ca, reader)
    assert seen["verification"]["status"] == "valid" and seen["residence"]["sequence"] == 2
    assert _check(seen, "rollback")["result"] == "succeeded"
    row = ca.get("/v1/cards/5250310000000101").json()
    assert (row["issued_site"], row["last_write_site"], row["last_sequence"]) == (
        "site-a", "site-b", 2)
    moving.stop()

    # 2. the same citizen at A and B at the same moment: exactly one card
    card_a, card_b = Card(sites["tmp"], "5250310000000201"), Card(sites["tmp"], "5250310000000202")
    sites["cards"] += [card_a, card_b]
    reader_a, reader_b = card_a.serve(port_a), card_b.serve(port_b)
    _rid(ca, reader_a), _rid(cb, reader_b)
    results: dict[str, httpx.Response] = {}
    go = threading.Barrier(2)

    def race(name: str, client: httpx.Client, card: Card) -> None:
        go.wait()
        results[name] = _issue(client, card, CAROL)

    threads = [threading.Thread(target=race, args=("a", ca, card_a)),
               threading.Thread(target=race, args=("b", cb, card_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {k: r.text for k, r in results.items()}
    loser = next(k for k, r in results.items() if r.status_code == 409)
    assert results[loser].json()["error"]["code"] == "CITIZEN_HAS_CARD"
    loser_read = _read(ca if loser == "a" else cb, reader_a if loser == "a" else reader_b)
    assert loser_read["state"] == "blank"
    active = [c for c in ca.get("/v1/cards", params={"citizen_number": CAROL["citizen_number"]})
              .json() if c["status"] == "active"]
    assert len(active) == 1
    card_a.stop()
    card_b.stop()

    # 3. revoke at A, read at B: revoked
    reader = moving.serve(port_b)
    revoked = admin_a.post("/v1/cards/5250310000000101/revoke", json={"reason": "lost"})
    assert revoked.status_code == 200, revoked.text
    seen = _read(cb, reader)
    assert seen["verification"]["status"] == "revoked"
    moving.stop()

    # 4. the database stops: offline reads, refused writes, card unchanged; back: writes work
    offline_card = Card(sites["tmp"], "5250310000000301")
    sites["cards"].append(offline_card)
    reader = offline_card.serve(port_a)
    issued = _issue(ca, offline_card, {**ALICE, "citizen_number": citizen(7)})
    assert issued.status_code == 200, issued.text
    sites["cluster"].stop()
    seen = _read(ca, reader)
    assert seen["verification"]["status"] == "valid"
    assert seen["verification"]["status_reason"] == "registry_unavailable"
    for name in ("revocation", "rollback"):
        assert _check(seen, name) == {"check": name, "result": "not_checked",
                                      "reason": "registry_unavailable"}
    assert seen["registry_error"]["code"] == "REGISTRY_UNAVAILABLE"
    health = httpx.get(f"{a.base}/v1/health").json()
    assert health["database"]["available"] is False and health["status"] == "degraded"
    before = offline_card.image.read_bytes()
    refused = _resign(ca, offline_card, "示范县新区9号")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == {
        "code": "REGISTRY_UNAVAILABLE", "retriable": True,
        "message": refused.json()["error"]["message"]}
    assert offline_card.image.read_bytes() == before
    assert _read(ca, reader)["residence"]["sequence"] == 1
    sites["cluster"].start()
    again = _resign(ca, offline_card, "示范县新区9号")
    assert again.status_code == 200, again.text
    assert again.json()["residence"]["sequence"] == 2
    assert httpx.get(f"{a.base}/v1/health").json()["database"]["available"] is True
    verify = admin_a.get("/v1/audit/verify").json()
    assert verify["ok"] and set(verify["sites"]) == {"site-a", "site-b"}
    # the daemon signed the checkpoints it recorded and trusts them: the next verify starts
    # from them; it kept them as its anchors in its data directory
    again = admin_a.get("/v1/audit/verify").json()
    assert again["ok"] and again["checked_from"] == verify["sites"]
    anchors = json.loads((sites["tmp"] / "site-a" / "audit-anchors.json").read_text())
    assert {site: seq for site, (seq, _) in anchors.items()} == verify["sites"]
