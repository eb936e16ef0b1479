"""One benchmark run: set up the demo data, cards and readers, run every section."""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cardservice.errors import CardServiceError

from . import cardtiming, daemon, latency, production, scaling, stores, traffic
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
    timing: cardtiming.Plan
    #: cards per reader in the production section (1 and 4 fed readers)
    production_cards: int

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(latency_n=300, scaling_seconds=1.0, daemon_requests=1_500, lookups=2_000,
                       timing=cardtiming.QUICK, production_cards=2)
        return cls(latency_n=3_000, scaling_seconds=5.0, daemon_requests=10_000, lookups=20_000,
                   timing=cardtiming.FULL, production_cards=4)


SECTIONS = ("traffic", "latency", "daemon", "scaling", "card timing", "production", "stores")


def run(plan: Plan, cache: Path, now: datetime, seed: int,
        only: frozenset[str] = frozenset(SECTIONS)) -> list[Section]:
    """Every section (or those named in ``only``), in a fixed order."""
    return [s for s in _run(plan, cache, now, seed, only) if s is not None]


def _run(plan: Plan, cache: Path, now: datetime, seed: int,
         only: frozenset[str]) -> list[Section | None]:
    rng = random.Random(seed)

    def chosen(name: str, section: Callable[[], Section]) -> Section | None:
        return guarded(name, section) if name in only else None

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = make_bench(Path(tmp), now)
        engine = bench.engine()
        images = [issued_image(bench, engine, i, resigned=True, rng=rng)
                  for i in range(READERS_WANTED)]
        sections = [chosen("traffic", lambda: traffic.run(bench, engine, rng))]
        env = PcscEnv()
        try:
            readers = guarded_readers(env, images)
            first = readers[0] if readers else None
            sections.append(chosen("latency", lambda: latency.run(
                engine, images[0], first, plan.latency_n, rng)))
            sections.append(chosen("daemon", lambda: daemon.run(
                bench, engine, first, now, plan.latency_n, plan.daemon_requests)))
            sections.append(chosen("scaling", lambda: scaling.run(
                engine, readers, plan.scaling_seconds)))
            env.release(list(env.served))  # the timed cards need the reader slots
            sections.append(chosen("card timing", lambda: cardtiming.run(
                bench, engine, env, plan.timing, rng)))
            sections.append(chosen("production", lambda: production.section(
                bench, env, plan.production_cards)))
        finally:
            env.close()
            engine.registry.close()
            engine.audit.close()
    sections.append(chosen("stores", lambda: stores.run(cache, now, plan.lookups, rng)))
    return sections


def guarded(name: str, section: Callable[[], Section]) -> Section:
    """Run one section; a failure to measure becomes a "not run" section with its reason."""
    started = time.perf_counter()
    try:
        return section()
    except (RuntimeError, OSError, CardServiceError) as exc:
        logger.warning("section %s not run: %s", name, exc)
        return Section(name, error=f"{type(exc).__name__}: {exc}")
    finally:
        logger.info("section %s took %.1f s", name, time.perf_counter() - started)


def guarded_readers(env: PcscEnv, images: list[Path]) -> list[str]:
    """Serve the cards into free vpcd readers; [] (sections say why) if PC/SC is unusable."""
    try:
        env.ensure_pcscd()
        served = env.serve(images, [serial_for(i) for i in range(len(images))])
    except (RuntimeError, OSError, CardServiceError) as exc:
        logger.warning("no PC/SC readers: %s", exc)
        return []
    logger.info("cards served in %s", [s.reader for s in served])
    return [s.reader for s in served]
