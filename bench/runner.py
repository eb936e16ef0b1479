"""One benchmark run: set up the demo data, cards and readers, run every section."""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from cardservice.engine.operations import Engine
from cardservice.errors import CardServiceError

from . import cardtiming, daemon, latency, production, scaling, stores, traffic
from .cards import Bench, issued_image, make_bench, serial_for
from .env import PcscEnv, Served
from .report import Section

logger = logging.getLogger(__name__)

READERS_WANTED = 4


@dataclass(frozen=True)
class Plan:
    """How much to measure: ``quick`` is the under-a-minute run (after the first cache fill)."""

    latency_n: int
    scaling_seconds: float
    #: card reads sent to the daemon, of which the first ``rss.WARMUP_REQUESTS`` are its warm-up
    daemon_requests: int
    lookups: int
    timing: cardtiming.Plan
    #: cards per reader in the production section (1 and 4 fed readers)
    production_cards: int

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(latency_n=300, scaling_seconds=1.0, daemon_requests=3_000, lookups=2_000,
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
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = make_bench(Path(tmp), now)
        # the daemon starts while the cards are issued and served (all set-up; the traffic
        # section counts APDUs and bytes, no time) and answers before the first timed section
        server = daemon.Daemon(bench, now) if only & {"daemon", "card timing"} else None
        engine = bench.engine()
        run = _Run(plan, bench, engine, PcscEnv(), server, rng, only)
        try:
            images = [issued_image(bench, engine, i, resigned=True, rng=rng)
                      for i in range(READERS_WANTED)]
            sections = [run.chosen("traffic", lambda: traffic.run(bench, engine, rng))]
            sections += run.pcsc_sections(images)
        finally:
            if server is not None:
                server.close()
            run.env.close()
            engine.registry.close()
            engine.audit.close()
    sections.append(_chosen(only, "stores", lambda: stores.run(cache, now, plan.lookups, rng)))
    return sections


def _chosen(only: frozenset[str], name: str, section: Callable[[], Section]) -> Section | None:
    return guarded(name, section) if name in only else None


@dataclass
class _Run:
    """The sections that need PC/SC readers, in order, sharing the cards, readers and daemon.
    The set-up of the card timing and production sections runs during the daemon section's
    RSS warm-up (untimed requests), or when the section starts if the daemon section is not
    run."""

    plan: Plan
    bench: Bench
    engine: Engine
    env: PcscEnv
    server: daemon.Daemon | None
    rng: random.Random
    only: frozenset[str]
    timed: cardtiming.Prepared | None = None
    line: production.Line | None = None
    #: the cards served for the latency, scaling and daemon sections
    ours: list[Served] = field(default_factory=list)

    def chosen(self, name: str, section: Callable[[], Section]) -> Section | None:
        return _chosen(self.only, name, section)

    def pcsc_sections(self, images: list[Path]) -> list[Section | None]:
        """In the order of :data:`SECTIONS`; run with scaling before the daemon section, so the
        cards the daemon section does not use can go out during its RSS warm-up."""
        plan, engine, env = self.plan, self.engine, self.env
        readers = guarded_readers(env, images)
        self.ours, first = list(env.served), (readers[0] if readers else None)
        self._await_daemon()
        done = {"latency": self.chosen("latency", lambda: latency.run(
            engine, images[0], first, plan.latency_n, self.rng))}
        done["scaling"] = self.chosen("scaling", lambda: scaling.run(
            engine, readers, plan.scaling_seconds))
        done["daemon"] = self.chosen("daemon", lambda: daemon.run(
            self._daemon(), engine, first, plan.latency_n, plan.daemon_requests, self._ahead))
        env.release(self.ours)  # the timed cards need the reader slots
        done["card timing"] = self.chosen("card timing", lambda: cardtiming.run(
            engine, env, plan.timing, self._operator(), self._prepared()))
        if self.server is not None:
            # gone before the feeders start: it may still hold a handle on a reader of theirs
            self.server.close()
        done["production"] = self.chosen("production", lambda: production.section(
            self._line(), env, plan.production_cards))
        return [done[name] for name in SECTIONS if name in done]

    def _await_daemon(self) -> None:
        """Wait until the daemon answers (a failure is kept for its sections to report)."""
        if self.server is not None:
            try:
                self.server.ready()
            except RuntimeError as exc:
                logger.warning("daemon not started: %s", exc)

    def _daemon(self) -> daemon.Daemon:
        if self.server is None:
            raise RuntimeError("no daemon was started")
        self.server.ready()
        return self.server

    def _operator(self) -> httpx.Client:
        server = self._daemon()
        if "operator" not in server.named:
            server.named["operator"] = server.client("operator")
        return server.named["operator"]

    def _prepared(self) -> cardtiming.Prepared:
        if self.timed is None:
            self.timed = cardtiming.prepare(self.bench, self.engine, self.rng)
        return self.timed

    def _line(self) -> production.Line:
        if self.line is None:
            self.line = production.prepare(self.bench, self.plan.production_cards)
        return self.line

    def _ahead(self) -> None:
        """Untimed set-up of later sections, run during the daemon's RSS warm-up. A failure
        here is left for the section itself to meet (it prepares what is missing)."""
        try:
            if "card timing" in self.only:
                self.env.release(self.ours[1:])  # the scaling section is done with them
                cardtiming.serve_ahead(self.env, self._prepared(), self._operator())
            if "production" in self.only:
                self._line()
        except (RuntimeError, OSError, CardServiceError, httpx.HTTPError) as exc:
            logger.warning("set-up ahead of the later sections failed: %s", exc)


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
