"""APDUs and bytes per read+verify and per re-sign, counted at the transport (in-process card),
next to the layout minimum and the stored payload."""

from __future__ import annotations

import logging
import random

from card_layout.files import Fid
from cardservice.engine.operations import Engine
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection

from .cards import MOVE, Bench, issued_image
from .counting import CountingConnection, Traffic
from .layout import read_minimum, resign_minimum, stored_payload
from .report import Figure, Section, Verdict

logger = logging.getLogger(__name__)

READ_MAX_APDUS = 5  # SELECT, READ BINARY (EF.ID), INTERNAL AUTHENTICATE, 2 READ BINARY
READ_MAX_RATIO = 1.15
RESIGN_MAX_APDUS = 8


def _read_figures(label: str, conn: CountingConnection, bench_engine: Engine) -> tuple[list, list]:
    conn.reset()
    view = bench_engine.read(conn)
    if view.report.status.value != "valid":
        raise RuntimeError(f"the {label} card does not verify: {view.report.status.value}")
    files = conn.inner.card.image.files
    lens = [files[f].length for f in (Fid.ID, Fid.RES_A, Fid.RES_B)]
    payload = stored_payload(*lens)
    minimum = read_minimum(*lens)
    t = conn.traffic
    group = f"read ({label})"
    figures = [
        Figure(group, "APDUs (layout minimum)", t.apdus, "", f"min {minimum.apdus}"),
        Figure(group, "wire bytes (command + response)", t.wire_bytes, "B",
               f"min {minimum.wire_bytes}"),
        Figure(group, "payload (serial + used file bytes + chip proof)", payload, "B"),
        Figure(group, "wire / payload", t.wire_bytes / payload, "x"),
    ]
    verdicts = [
        Verdict(f"read+verify APDUs ({label})", t.apdus, "<=", READ_MAX_APDUS, ""),
        Verdict(f"read+verify wire bytes / payload ({label})", round(t.wire_bytes / payload, 3),
                "<=", READ_MAX_RATIO, "x"),
    ]
    return figures, verdicts


def _resign_traffic(engine: Engine, conn: CountingConnection) -> tuple[Traffic, Traffic, int, int]:
    """(whole re-sign, write phase after the read, new slot length, old slot length)."""
    image = conn.inner.card.image
    before = {f: image.files[f].length for f in (Fid.RES_A, Fid.RES_B)}
    conn.reset()
    view = engine.resign(conn, MOVE)
    total = conn.traffic
    if [a[1] for a in conn.log[:READ_MAX_APDUS]] != [0xA4, 0xB0, 0x88, 0xB0, 0xB0]:
        raise RuntimeError("the re-sign did not start with SELECT + READ BINARY + INTERNAL "
                           "AUTHENTICATE + 2 READ BINARY")
    write_phase = conn.since(READ_MAX_APDUS)  # the read before the write is 5 APDUs (checked)
    target = view.report.current_slot
    return total, write_phase, image.files[target].length, before[target]


def run(bench: Bench, engine: Engine, rng: random.Random) -> Section:
    figures, verdicts = [], []
    for index, (label, resigned) in enumerate((("issued", False), ("re-signed", True))):
        image = issued_image(bench, engine, 100 + index, resigned=resigned, rng=rng)
        conn = CountingConnection(InProcessConnection(VirtualCard(image, rng=rng)))
        f, v = _read_figures(label, conn, engine)
        figures += f
        verdicts += v
    total, write, new_len, old_len = _resign_traffic(engine, conn)
    minimum = resign_minimum(new_len, old_len)
    figures += [
        Figure("re-sign", "APDUs, whole operation (read + write)", total.apdus, ""),
        Figure("re-sign", "APDUs, auth + write + read-back", write.apdus, "",
               f"min {minimum.apdus}"),
        Figure("re-sign", "wire bytes, auth + write + read-back", write.wire_bytes, "B",
               f"min {minimum.wire_bytes}"),
    ]
    verdicts.append(Verdict("re-sign APDUs (auth, write, read-back)", write.apdus, "<=",
                            RESIGN_MAX_APDUS, ""))
    return Section("traffic", tuple(figures), tuple(verdicts))
