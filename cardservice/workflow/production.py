"""Production runs at the county centre: certified applications, in due-date order, each
personalized onto a blank card, on several readers at once (one worker thread per reader).

- A worker waits for a card in its reader (by the reader's state, without connecting), claims the next certified application (a database
  claim, so two workers or two daemons never take the same one), checks the rules again, issues
  the card (registered ``produced``, active only at hand-over), marks the application
  ``produced`` with the card's serial, ejects the card and waits until it has left the reader
  (a feeder then inserts the next; at a plain reader a clerk takes it out).
- A card that fails its write or read-back is not linked; its application keeps its claim until
  the run ends and is then ``certified`` again (never retried on a second card in the same run);
  the spoiled card is ejected.
- ``on_produced(application, card_view)`` runs after a card is linked and before it is ejected:
  the hook where the card face is printed (:mod:`cardservice.workflow.printing`, with
  ``CARDSERVICE_PRINTER`` set). What it answers is the card's print result; a failed print
  (``"status": "failed"``) is counted in ``print_failed`` and leaves the card produced.
- Stopping (Ctrl-C, SIGTERM, :meth:`ProductionRun.stop`) lets each worker finish the card in
  hand; a run killed outright is repaired by the next one before it takes any application
  (:mod:`cardservice.workflow.recovery`): the cards left in its readers are read (settling their
  pending writes) and the personalized ones ejected, a card registered as produced for a
  certified application's citizen is linked to it instead of producing a second card, an
  application whose card write is unsettled is held out of the run, the stale claims released.
- Card I/O goes through a :class:`ReaderAccess`: the CLI's own PC/SC connections
  (:class:`DirectAccess`), or the daemon's reader workers, so that a run's card operation and
  any other request on that reader never interleave.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import CardView, Engine, PermitRequest
from cardservice.transport import CardConnection
from cardservice.workflow.codec import from_row
from cardservice.workflow.model import Application, Kind
from cardservice.workflow.recovery import CLAIM_RENEW_S, claim_owner, recover, settle_card
from cardservice.workflow.rules import check_application, identity_of
from cardservice.workflow.service import Actor, ApplicationService

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ReaderAccess(Protocol):
    """How a run reaches the card in a reader."""

    def card_token(self, reader: str) -> object | None:
        """A token of the card now in ``reader`` (None: none), new with every insertion;
        without connecting to the card."""

    def use(self, reader: str, fn: Callable[[CardConnection], T]) -> T:
        """Run ``fn`` with a connection to the card in ``reader``, no other card operation on
        that reader in between."""

    def eject(self, conn: CardConnection) -> None:
        """Inside ``use``: release the card with the eject disposition."""


class DirectAccess:
    """A connection of its own per card (the CLI without a daemon, and tests)."""

    def __init__(self, connect: Callable[[str], CardConnection],
                 card_token: Callable[[str], object | None]) -> None:
        self._connect, self.card_token = connect, card_token
        self._ejected: set[int] = set()

    def use(self, reader: str, fn: Callable[[CardConnection], T]) -> T:
        conn = self._connect(reader)
        try:
            return fn(conn)
        finally:
            if id(conn) in self._ejected:
                self._ejected.discard(id(conn))
            else:
                conn.close()

    def eject(self, conn: CardConnection) -> None:
        self._ejected.add(id(conn))
        conn.eject()

#: failures that spoil or leave the card in the reader: eject it rather than reuse it
CARD_FAILURES = (errors.TransportError, errors.CardProtocolError, errors.WriteVerifyError,
                 errors.AlreadyPersonalizedError, errors.CardChangedError)


@dataclass
class Progress:
    """Where a run stands; ``results`` holds ``(application id, card serial or None, error
    code or None)`` per application tried, ``prints`` the print result per application."""

    run_id: str
    readers: list[str]
    total: int
    started_at: datetime
    done: int = 0
    failed: int = 0
    state: str = "running"  # running | finished | stopped
    results: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    prints: dict[str, dict] = field(default_factory=dict)
    elapsed: float = 0.0
    #: reader -> seconds from the run's start at which each card produced there was done
    card_times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def left(self) -> int:
        return max(self.total - self.done - self.failed, 0)

    @property
    def rate(self) -> float:
        """Cards produced per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def line_rate(self) -> float:
        """Cards per second of the line: each reader's cards over its own time from the run's
        start to its last card done, summed. Unlike :attr:`rate` it leaves out the end of a
        run, where readers that are done wait for the last card of the others."""
        return sum(len(t) / t[-1] for t in self.card_times.values() if t and t[-1] > 0)

    @property
    def print_failed(self) -> int:
        """Cards produced whose face did not print."""
        return sum(1 for p in self.prints.values() if p.get("status") == "failed")

    @property
    def eta(self) -> float | None:
        return self.left / self.rate if self.rate > 0 else None

    def as_dict(self) -> dict:
        return {"id": self.run_id, "state": self.state, "readers": self.readers,
                "total": self.total, "done": self.done, "failed": self.failed,
                "left": self.left, "print_failed": self.print_failed, "rate": round(self.rate, 3),
                "eta_seconds": None if self.eta is None else round(self.eta, 1),
                "started_at": self.started_at.isoformat(),
                "results": [{"application_id": a, "card_serial": s, "error": e,
                             "print": self.prints.get(a)} for a, s, e in self.results]}


class ProductionRun:
    """One run over ``readers``; :meth:`run` blocks until done or stopped."""

    def __init__(self, service: ApplicationService, engine: Engine, access: ReaderAccess,
                 readers: list[str], actor: Actor, *,
                 limit: int | None = None, card_wait: float = 10.0,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_produced: Callable[[Application, CardView], dict | None] | None = None
                 ) -> None:
        if not readers:
            raise errors.NoReaderError("no reader to produce on")
        self.service, self.engine, self.access = service, engine, access
        self.readers, self.actor, self.limit = list(readers), actor, limit
        self.card_wait = card_wait
        self.on_progress = on_progress
        self.on_produced = on_produced
        #: application id -> serial of the card whose unsettled write holds it out of the run
        self.held: dict[str, str] = {}
        self.run_id = "run-" + uuid.uuid4().hex[:12]
        #: what its claims say: run, host and process (another run can tell whether it is gone)
        self.owner = claim_owner(self.run_id)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._budget = 0
        self._ejected: dict[str, object] = {}
        self.progress = Progress(self.run_id, self.readers, 0, service.clock())

    def stop(self) -> None:
        """End the run after the cards in hand: no reader takes another card."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> Progress:
        try:
            return self._run()
        finally:  # failed (and held) applications: certified again, for the next run
            self.service.store.release_claims(owner=self.owner)

    def _run(self) -> Progress:
        self._settle_leftovers()
        recovered = recover(self.service, self.actor, self.owner)
        self.held = recovered.held
        for app_id, serial in recovered.linked:
            self._record(app_id, serial, None)
        waiting = self.service.store.count("certified") - len(self.held)
        self._budget = waiting if self.limit is None else min(self.limit, waiting)
        self.progress.total = self._budget + len(recovered.linked)
        started = time.monotonic()
        self._report(started)
        workers = [threading.Thread(target=self._worker, args=(r, started), name=f"produce-{r}",
                                    daemon=True) for r in self.readers]
        for w in workers:
            w.start()
        ended = threading.Event()
        renewer = threading.Thread(target=self._renew_claims, args=(ended,),
                                   name=f"{self.run_id}-lease", daemon=True)
        renewer.start()
        for w in workers:
            w.join()
        ended.set()
        renewer.join()
        self.service.store.release_claims(owner=self.owner)
        self.progress.state = "stopped" if self._stop.is_set() else "finished"
        self._report(started)
        return self.progress

    def _renew_claims(self, ended: threading.Event) -> None:
        """Renew the lease of this run's claims until it ends (a run on another PC releases
        claims whose lease ran out: recovery.CLAIM_LEASE)."""
        while not ended.wait(CLAIM_RENEW_S):
            try:
                self.service.store.renew_claims(self.owner, self.service.clock())
            except errors.CardServiceError as exc:  # database offline: try again next time
                logger.warning("run %s: claims not renewed: %s", self.run_id, exc.code)

    def _take_budget(self) -> bool:
        with self._lock:
            if self._budget <= 0 or self._stop.is_set():
                return False
            self._budget -= 1
            return True

    def _settle_leftovers(self) -> None:
        """Settle what an interrupted run left in the readers, every reader at once (each read
        is card time: serially, a run on N readers started N reads late). All are settled
        before :func:`recover` looks at the pending writes."""
        if len(self.readers) == 1:
            self._settle_leftover(self.readers[0])
            return
        with ThreadPoolExecutor(len(self.readers), thread_name_prefix="settle") as pool:
            list(pool.map(self._settle_leftover, self.readers))  # re-raises a worker's error

    def _settle_leftover(self, reader: str) -> None:
        """A card an interrupted run left in ``reader``: read it (settling its pending write);
        a personalized one is ejected, a blank one stays for this run."""
        try:
            token = self.access.card_token(reader)
            if token is None:
                return

            def settle(conn: CardConnection) -> str | None:
                serial = settle_card(self.engine, conn)
                if serial is not None:
                    self.access.eject(conn)
                return serial

            serial = self.access.use(reader, settle)
        except errors.CardServiceError as exc:
            logger.warning("reader %s: the card in it was not checked: %s", reader, exc.code)
            return
        if serial is not None:
            logger.info("ejected personalized card %s left in %s", serial, reader)
            self._ejected[reader] = token

    def _worker(self, reader: str, started: float) -> None:
        while (token := self._wait_for_card(reader)) is not None and self._take_budget():
            row = self.service.store.claim_next(self.owner, self.service.clock())
            if row is None:
                return
            app = from_row(row)
            try:
                ejected, produced = self.access.use(reader,
                                                    lambda conn, a=app: self._produce(a, conn))
            except errors.CardTimeoutError as exc:  # a mute card: its write may still land
                logger.warning("%s hangs in %s: %s; its worker ends", app.id, reader, exc.code)
                self._record(app.id, None, exc.code)  # the claim stays until the run ends
                self._report(started)
                return
            except errors.CardServiceError as exc:  # no connection, or the reader stayed busy
                logger.warning("cannot use %s: %s", reader, exc.code)
                self.service.store.release(row.id)
                with self._lock:
                    self._budget += 1
                self._stop.wait(0.2)
                continue
            if ejected:  # wait for another card
                self._ejected[reader] = token
            if produced:
                self._card_done(reader, started)
            self._report(started)

    def _wait_for_card(self, reader: str) -> object | None:
        """Wait (by the reader's state, without connecting) for a card other than the one last
        ejected from ``reader``; its token, or None when none came in ``card_wait`` seconds or
        nothing is left to produce (the run ends with its last card, not ``card_wait`` later)."""
        deadline = time.monotonic() + self.card_wait
        while not self._stop.is_set() and self._budget > 0:
            try:
                token = self.access.card_token(reader)
                if token is not None and token != self._ejected.get(reader):
                    return token
            except errors.CardServiceError as exc:
                logger.warning("reader %s: %s", reader, exc.code)
            if time.monotonic() > deadline:
                logger.warning("%s: no new card within %.0f s; its worker ends", reader,
                               self.card_wait)
                return None
            self._stop.wait(0.05)
        return None

    def _produce(self, app: Application, conn: CardConnection) -> tuple[bool, bool]:
        """Produce ``app`` on the card in ``conn``; (the card was ejected, it was produced)."""
        eject = produced = False
        try:
            check_application(app, self.service.lookups, self.service.today())
            photo = None if app.photo is None else base64.b64decode(app.photo)
            view = self.engine.issue(conn, identity_of(app), _request(app),
                                     actor=self.actor.name, from_application=True, photo=photo)
            serial = view.serial.hex()
            eject = True
            produced = self.service.mark_produced(app, serial, self.actor)
            printed = None if self.on_produced is None else self.on_produced(produced, view)
            self._record(app.id, serial, None, printed)
            produced = True
        except errors.CardServiceError as exc:
            eject = eject or isinstance(exc, CARD_FAILURES)
            logger.warning("application %s not produced on %s: %s %s", app.id,
                           conn.reader_name, exc.code, exc.message)
            self._record(app.id, None, exc.code)
        finally:
            if eject:
                self.access.eject(conn)
        return eject, produced

    def _record(self, app_id: str, serial: str | None, code: str | None,
                printed: dict | None = None) -> None:
        with self._lock:
            self.progress.results.append((app_id, serial, code))
            if printed is not None:
                self.progress.prints[app_id] = printed
            if code is None:
                self.progress.done += 1
            else:
                self.progress.failed += 1

    def _card_done(self, reader: str, started: float) -> None:
        with self._lock:
            self.progress.card_times.setdefault(reader, []).append(time.monotonic() - started)

    def _report(self, started: float) -> None:
        with self._lock:
            self.progress.elapsed = time.monotonic() - started
        if self.on_progress is not None:
            self.on_progress(self.progress)


def _request(app: Application) -> PermitRequest:
    res = app.residence
    family = app.kind is Kind.FAMILY and app.family is not None
    return PermitRequest(current_residence=res.current_residence,
                         permit_type=PermitType(res.permit_type),
                         basis=None if family else res.basis,
                         sponsor_citizen_number=app.family.sponsor_citizen_number if family
                         else None,
                         evidence=app.evidence)  # into the card's issue intent, as audited
