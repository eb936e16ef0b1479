"""One benchmark run: set up the demo data, cards and readers, run every section."""

from __future__ import annotations

import logging
import random
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import daemon, latency, scaling, stores, traffic
from .cards import issued_image, make_bench, serial_for
from .env import PcscEnv
from .report import Section

logger = logging.getLogger(__name__)

READERS_WANTED = 4


@dataclass(frozen=True)
class Plan:
    """How much to measure: ``quick`` is the under-a-minute run (after the first cache fill)."""

    latency_n: int
    scaling_seconds: float
    daemon_requests: int
    lookups: int

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(latency_n=300, scaling_seconds=1.5, daemon_requests=5_000, lookups=2_000)
        return cls(latency_n=3_000, scaling_seconds=5.0, daemon_requests=10_000, lookups=20_000)


def run(plan: Plan, cache: Path, now: datetime, seed: int) -> list[Section]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = make_bench(Path(tmp), now)
        engine = bench.engine()
        images = [issued_image(bench, engine, i, resigned=True, rng=rng)
                  for i in range(READERS_WANTED)]
        sections = [traffic.run(bench, engine, rng)]
        env = PcscEnv()
        try:
            env.ensure_pcscd()
            served = env.serve(images, [serial_for(i) for i in range(READERS_WANTED)])
            readers = [s.reader for s in served]
            first = readers[0] if readers else None
            logger.info("cards served in %s", readers)
            sections.append(latency.run(engine, images[0], first, plan.latency_n, rng))
            sections.append(daemon.run(bench, engine, first, now, plan.latency_n,
                                       plan.daemon_requests))
            sections.append(scaling.run(engine, readers, plan.scaling_seconds))
        finally:
            env.close()
            engine.registry.close()
            engine.audit.close()
    sections.append(stores.run(cache, now, plan.lookups, rng))
    return sections
