"""Production throughput as a county centre runs it: certified applications personalized by
the workflow's production run (:class:`cardservice.workflow.production.ProductionRun`, the code
behind ``cardservice produce``) on 1 and on 4 readers, each fed by a ``cardsim serve --feeder``
stack of blank cards answering at ``iso-9600``. A fed card is ejected after its issue and the
next one goes in, so the rate includes the card swap; each stack holds one card more than the
run takes, so the run ends as soon as its last card is out (no idle wait).

Both runs are timed the same way, by the run's own clock: from the moment its workers start
(the first card in; the cards left in the readers are settled before) to its last card out,
every swap between included. The line rate (:attr:`Progress.line_rate`: each reader's cards
over its own time to its last card out, summed) is shown beside: it leaves out the end of a run,
where the readers that are done wait for the last card of the others."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cardservice.engine.service import Service
from cardservice.transport.pcsc import PcscDriver
from cardservice.workflow.model import Application, Kind, Residence
from cardservice.workflow.production import DirectAccess, ProductionRun, Progress
from cardservice.workflow.service import Actor, ApplicationService
from cardservice.workflow.wiring import open_applications

from .cards import HOLDER, Bench, citizen_number
from .env import PcscEnv, Served
from .report import Figure, Section, Verdict

logger = logging.getLogger(__name__)

MIN_PRODUCTION_4 = 3.8
PROFILE = "iso-9600"
#: First citizen index of this section's applicants (other sections use lower indexes).
BASE_INDEX = 2_000
#: A county centre's line works one 8-hour shift a day (the per-shift figure is derived).
SHIFT_HOURS = 8


def _certified(apps: ApplicationService, site: str, count: int, first: int) -> None:
    """``count`` first-issue applications, submitted, audited and certified."""
    clerk, certifier = Actor("bench-clerk", site), Actor("bench-certifier", "county")
    for i in range(first, first + count):
        draft = Application(id="", kind=Kind.FIRST_ISSUE,
                            identity={**HOLDER, "citizen_number": citizen_number(i)},
                            residence=Residence("博乐市青得里街道团结路12号", "temporary"), site="",
                            submitted_at=apps.clock(), submitted_by="", due_on=date(2000, 1, 1))
        app = apps.submit(draft, clerk)
        apps.decide(app.id, "audit", True, None, clerk)
        apps.decide(app.id, "certify", True, None, certifier)


def _stacks(env: PcscEnv, root: Path, cards: int) -> list[list[Served]]:
    """The 1-reader and the 4-reader runs' fed stacks, all started at once when 5 reader slots
    are free (the others wait in their readers; an idle fed reader does no card I/O), else
    only the first run's (the second is fed when it starts)."""
    folders = [root / f"stack-{readers}-{i}" for readers in (1, 4) for i in range(readers)]
    fed = env.feed_many(folders, cards + 1, timing=PROFILE) if env.free_slots() >= 5 else []
    if len(fed) == 5:
        return [fed[:1], fed[1:]]
    env.release(fed)
    return [env.feed_many(folders[:1], cards + 1, timing=PROFILE), []]


def _run(svc: Service, apps: ApplicationService, env: PcscEnv, mine: list[Served],
         readers: int, cards: int) -> Progress:
    """A run on the fed readers ``mine`` (``readers`` wanted), ``cards`` each (all produced)."""
    try:
        if len(mine) < readers:
            raise RuntimeError(f"only {len(mine)} vpcd reader slot(s) free; {readers} needed")
        driver = PcscDriver(timeout=svc.pcsc_timeout)
        try:
            run = ProductionRun(apps, svc.engine, DirectAccess(driver.connect, driver.card_token),
                                [f.reader for f in mine], Actor("bench-producer", "county"),
                                limit=readers * cards, card_wait=15.0)
            progress = run.run()
        finally:
            driver.close()
    finally:
        env.release(mine)
    if progress.failed or progress.done != readers * cards:
        raise RuntimeError(f"production on {readers} reader(s): {progress.done} produced, "
                           f"{progress.failed} failed: {progress.results}")
    return progress


def _per_hour(progress: Progress) -> float:
    """Cards per hour from the first card in to the last card out."""
    return progress.done / max(t[-1] for t in progress.card_times.values()) * 3600


@dataclass(frozen=True)
class Line:
    """The county centre's side, set up before the section runs (untimed): the service, its
    applications (certified, waiting for cards) and the card face's keys and fonts loaded."""

    svc: Service
    apps: ApplicationService


def prepare(bench: Bench, cards: int) -> Line:
    svc = Service(bench.home)
    apps = open_applications(svc)
    svc.engine.face.warm()  # keys and fonts load before the clock starts
    _certified(apps, svc.site_id, 5 * cards, BASE_INDEX)
    return Line(svc, apps)


def run(line: Line, env: PcscEnv, cards: int) -> tuple[list[Figure], list[Verdict]]:
    """Cards per hour on 1 and on 4 readers (``cards`` per reader) and the county centre's."""
    svc, apps = line.svc, line.apps
    with tempfile.TemporaryDirectory(prefix="bench-feeder-") as tmp:
        first, second = _stacks(env, Path(tmp), cards)
        try:
            single = _run(svc, apps, env, first, 1, cards)
        except BaseException:
            env.release(second)  # the stacks fed ahead come out too
            raise
        second = second or env.feed_many([Path(tmp) / f"stack-4-{i}" for i in range(4)],
                                          cards + 1, timing=PROFILE)
        four_line = _run(svc, apps, env, second, 4, cards)
    return _figures(single, four_line)


def _figures(single: Progress, line: Progress) -> tuple[list[Figure], list[Verdict]]:
    one, four = _per_hour(single), _per_hour(line)
    group = f"production {PROFILE}"
    figures = [
        Figure(group, "cards per hour, 1 fed reader", one, "/h", f"{single.done} cards"),
        Figure(group, "cards per hour, 4 fed readers", four, "/h", f"{line.done} cards"),
        Figure(group, "line rate, 1 fed reader", single.line_rate * 3600, "/h",
               "to each reader's own last card"),
        Figure(group, "line rate, 4 fed readers", line.line_rate * 3600, "/h",
               f"{line.line_rate / single.line_rate:.2f}x the 1-reader line rate"),
        Figure(group, f"county centre line of 4 readers, per {SHIFT_HOURS}-hour shift",
               four * SHIFT_HOURS, "/shift", "derived from the 4-reader rate"),
    ]
    verdict = Verdict(f"production cards/hour 4 readers / 1 ({PROFILE})", round(four / one, 2),
                      ">=", MIN_PRODUCTION_4, "x")
    return figures, [verdict]


def section(line: Line, env: PcscEnv, cards: int) -> Section:
    """``line``: from :func:`prepare` (the run does it during the daemon's RSS warm-up)."""
    figures, verdicts = run(line, env, cards)
    return Section("production", tuple(figures), tuple(verdicts))
