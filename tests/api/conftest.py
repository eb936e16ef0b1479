"""API test fixtures: a daemon app (TestClient, in-process) over two simulated readers, a fixed
clock, and one token per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardservice.api import create_app
from cardservice.api.runtime import Runtime
from cardservice.config import Settings
from cardservice.engine.service import Service
from cardservice.pki.keys import DataDir, init_demo
from cardservice.transport.readers import reader_id
from simulator.devkeys import load_dev_master_keys
from tests.clock import START, Clock

from .simbackend import SimulatedBackend, make_card

NOW = START
BASE_URL = "http://127.0.0.1:8765"
READER_A = "Sim Reader A"
READER_B = "Sim Reader B"
SERIAL_A = "0102030405060708"
SERIAL_B = "1112131415161718"

ALICE = {"name": "张三", "gender": "female", "nationality": "汉",
         "citizen_number": "11010519491231002X", "household_address": "北京市朝阳区建国路88号"}
BOB = {"name": "李四", "gender": "male", "nationality": "01",
       "citizen_number": "110105199001011232", "household_address": "新疆博乐市青得里大街1号"}


SERIALS = {READER_A: SERIAL_A, READER_B: SERIAL_B}


def issue_body(identity: dict = ALICE, *, card_serial: str = SERIAL_A,
               evidence: dict | None = None, **residence) -> dict:
    """An issue body for the blank card ``card_serial`` (the card in READER_A by default);
    ``evidence``: the basis evidence a long-term permit in the holder's own right needs."""
    res = {"current_residence": "示范县城关镇幸福路1号", "permit_type": "temporary", **residence}
    body = {"identity": identity, "residence": res, "card_serial": card_serial}
    return body | ({"evidence": evidence} if evidence else {})




@dataclass
class Daemon:
    client: TestClient
    backend: SimulatedBackend
    runtime: Runtime
    tokens: dict[str, str]
    clock: Clock

    def auth(self, role: str = "operator", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def url(self, reader: str = READER_A, action: str | None = None) -> str:
        base = f"/v1/readers/{reader_id(reader)}/card"
        return f"{base}/{action}" if action else base

    def issue(self, reader: str = READER_A, body: dict | None = None, **headers: str):
        body = {**(body or issue_body()), "card_serial": SERIALS.get(reader, SERIAL_A)}
        return self.client.post(self.url(reader, "issue"), json=body,
                                headers=self.auth(**headers))


@pytest.fixture(scope="session", params=["files", "pkcs11"])
def key_template(request, tmp_path_factory) -> Path:
    """The demo keys as files, and (second run of every API test) inside a SoftHSM token."""
    root = tmp_path_factory.mktemp(f"keys-{request.param}")
    token = request.getfixturevalue("pkcs11_token") if request.param == "pkcs11" else None
    init_demo(DataDir(root), now=NOW - timedelta(days=1), masters=load_dev_master_keys(),
              token=token)
    return root


def make_settings(home: Path, **overrides) -> Settings:
    values = {"home": home, "operation_timeout": 2.0, "pcsc_timeout": 1.0, "read_wait": 0.3,
              "write_wait": 0.0}  # a write on a busy reader: READER_BUSY at once
    return Settings(**{**values, **overrides})


@pytest.fixture
def backend() -> SimulatedBackend:
    sim = SimulatedBackend()
    sim.add_reader(READER_A, make_card(SERIAL_A, seed=1))
    sim.add_reader(READER_B, make_card(SERIAL_B, seed=2))
    yield sim
    sim.release()


@pytest.fixture
def home(tmp_path: Path, key_template: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(key_template, target)
    return target


def running_daemon(home: Path, backend: SimulatedBackend, **settings) -> Iterator[Daemon]:
    """A daemon on ``backend`` with a token per role (``settings``: overrides of
    :func:`make_settings`), served by a TestClient while the generator runs."""
    clock = Clock()
    app = create_app(make_settings(home, **settings), service=Service.open(home, clock=clock),
                     backend=backend, clock=clock)
    runtime: Runtime = app.state.runtime
    tokens = {role: runtime.tokens.create(f"app-{role}", role, NOW)[0]
              for role in ("reader", "operator", "admin")}
    with TestClient(app, base_url=BASE_URL) as client:
        yield Daemon(client, backend, runtime, tokens, clock)


@pytest.fixture
def daemon(home: Path, backend: SimulatedBackend) -> Iterator[Daemon]:
    yield from running_daemon(home, backend)
