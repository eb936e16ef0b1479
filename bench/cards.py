"""Benchmark fixtures: a demo data directory and card images issued (and re-signed) in-process."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from card_layout.citizen import check_digit
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

logger = logging.getLogger(__name__)

HOLDER = {"name": "张三", "gender": "female", "nationality": "汉", "citizen_number": "11010519491231002X",
              "household_address": "北京市朝阳区建国路88号"}
FIRST = PermitRequest(current_residence="博乐市青得里街道团结路12号",
                      permit_type=PermitType.TEMPORARY)
MOVE = PermitRequest(current_residence="博乐市新区友谊路8号")


@dataclass(frozen=True)
class Bench:
    """Where one run keeps its data directory and card images."""

    root: Path
    now: datetime

    @property
    def home(self) -> DataDir:
        return DataDir(self.root / "home")

    def engine(self) -> Engine:
        """An engine on the data directory's registry and audit log (the daemon's own)."""
        keys = load_keys(self.home)
        home = self.home
        return Engine(keys, Registry(home.registry_db), AuditLog(home.audit_db),
                      clock=lambda: self.now)


def make_bench(root: Path, now: datetime) -> Bench:
    bench = Bench(root, now)
    init_demo(bench.home, now=now - timedelta(days=1), masters=load_dev_master_keys())
    return bench


def serial_for(index: int) -> bytes:
    return bytes.fromhex("52503142") + index.to_bytes(4, "big")


def issued_image(bench: Bench, engine: Engine, index: int, *, resigned: bool,
                 rng: random.Random) -> Path:
    """Issue card ``index`` (citizen numbers differ per card), optionally re-sign it; save it."""
    path = bench.root / f"card{index}.json"
    image = CardImage.blank(serial_for(index), load_dev_master_keys(), path)
    card = VirtualCard(image, rng=rng)
    conn = InProcessConnection(card)
    identity = Identity.create(**{**HOLDER, "citizen_number": citizen_number(index)})
    engine.issue(conn, identity, FIRST)
    if resigned:
        engine.resign(conn, MOVE)
    image.save()
    return path


def citizen_number(index: int) -> str:
    """A valid citizen number (female: even 17th digit) that differs per ``index`` < 14,000."""
    body = f"110105{19490101 + (index // 500) % 28:08d}{(2 * index) % 1000:03d}"
    return body + check_digit(body)
