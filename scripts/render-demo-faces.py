#!/usr/bin/env python3
"""Render the README's pictures of the demo card's face (docs/face/demo-front.png, -back.png):
the holder `make run` issues, issued on 2026-12-02 by the demo authority on a simulated card,
read back and drawn by cardservice.face. Run from the repository root: .venv/bin/python
scripts/render-demo-faces.py"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from card_layout.identity import Identity
from card_layout.record import PermitType
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.views import card_dict
from cardservice.face import render_face
from cardservice.pki.keys import DataDir, init_demo, load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.inprocess import InProcessConnection

ISSUED_AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
HOLDER = {"name": "王芳", "gender": "female", "nationality": "01",
          "citizen_number": "11010519491231002X", "household_address": "北京市朝阳区示例路1号"}
RESIDENCE = "示范县城关镇人民路8号"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = DataDir(Path(tmp))
        init_demo(home, now=ISSUED_AT, masters=load_dev_master_keys())
        engine = Engine(load_keys(home), Registry(Path(tmp) / "r.db"), AuditLog(Path(tmp) / "a.db"),
                        clock=lambda: ISSUED_AT)
        card = VirtualCard(CardImage.blank(bytes.fromhex("5250310000000042"),
                                           load_dev_master_keys()), rng=random.Random(1))
        view = engine.issue(InProcessConnection(card), Identity.create(**HOLDER),
                            PermitRequest(current_residence=RESIDENCE,
                                          permit_type=PermitType.TEMPORARY))
        read = card_dict(view)
    out.mkdir(parents=True, exist_ok=True)
    for side in ("front", "back"):
        path = out / f"demo-{side}.png"
        path.write_bytes(render_face(read, side, "png"))
        print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/face"))
