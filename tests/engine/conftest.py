"""Fixtures for engine tests: a demo data directory, a fixed clock and in-process simulated cards."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from card_layout.identity import Identity
from card_layout.record import PermitType
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.pki.keys import DataDir, init_demo, load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.inprocess import InProcessConnection
from tests.clock import START, Clock


@pytest.fixture(scope="session", params=["files", "pkcs11"])
def demo_home(request, tmp_path_factory) -> DataDir:
    """The demo keys as files, and (second run of every engine test) inside a SoftHSM token."""
    home = DataDir(tmp_path_factory.mktemp(f"home-{request.param}"))
    token = request.getfixturevalue("pkcs11_token") if request.param == "pkcs11" else None
    init_demo(home, now=START - timedelta(days=1), masters=load_dev_master_keys(), token=token)
    return home


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(demo_home: DataDir, tmp_path, clock: Clock) -> Engine:
    keys = load_keys(demo_home)
    eng = Engine(keys, Registry(tmp_path / "registry.db"), AuditLog(tmp_path / "audit.db"),
                 clock=clock)
    yield eng
    eng.registry.close()
    eng.audit.close()


@contextmanager
def taken_out_mid_write(card: VirtualCard) -> Iterator[None]:
    """Inside the block, the card's next write lands whole, its power is lost before the
    answer, and the card is taken out of its reader (it stays out until ``card.insert()``)."""
    card.faults.cut_power_in_update(1, 10_000)
    real_power_on = card.power_on

    def card_taken_away() -> bytes:
        card.present = False
        return real_power_on()

    card.power_on = card_taken_away
    try:
        yield
    finally:
        card.power_on = real_power_on


def make_card(serial_hex: str = "0102030405060708", seed: int = 7) -> VirtualCard:
    image = CardImage.blank(bytes.fromhex(serial_hex), load_dev_master_keys())
    return VirtualCard(image, rng=random.Random(seed))


@pytest.fixture
def card() -> VirtualCard:
    return make_card()


@pytest.fixture
def conn(card: VirtualCard) -> InProcessConnection:
    return InProcessConnection(card)


ALICE = {"name": "张三", "gender": "female", "nationality": "汉",
         "citizen_number": "11010519491231002X", "household_address": "北京市朝阳区建国路88号"}
BOB = {"name": "李四", "gender": "male", "nationality": "01",
       "citizen_number": "110105199001011232",
       "household_address": "新疆维吾尔自治区博州博乐市青得里大街1号"}


def identity(**overrides) -> Identity:
    return Identity.create(**{**ALICE, **overrides})


def temporary(residence: str = "博乐市青得里街道团结路12号") -> PermitRequest:
    return PermitRequest(current_residence=residence, permit_type=PermitType.TEMPORARY)
