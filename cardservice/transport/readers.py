"""Readers as the daemon sees them: a backend that lists and connects readers, a stable URL-safe
id per reader name, and one worker per reader (its own thread and lock) so that card I/O never
interleaves on a reader and a mute card never blocks another reader.

Only :class:`PcscBackend` touches PC/SC (through :mod:`cardservice.transport.pcsc`, imported lazily);
tests plug in a simulated backend.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from cardservice import errors
from cardservice.transport import CardConnection, ReaderInfo
from cardservice.transport.jobs import JobThread

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ReaderBackend(Protocol):
    """Lists readers and connects to the card in one; PC/SC or a simulation."""

    def readers(self) -> list[ReaderInfo]: ...

    def connect(self, name: str) -> CardConnection: ...

    def wait_for_change(self, timeout: float) -> None:
        """Block until a reader or card may have changed, or ``timeout`` seconds passed.
        Called from the monitor thread only."""

    def cancel(self) -> None:
        """Wake a pending ``wait_for_change`` early (shutdown)."""

    def card_token(self, name: str) -> object | None:
        """A token of the card in reader ``name`` (None: no card), new with every insertion,
        read without connecting (production waits for its next card with it)."""

    def eject(self, name: str) -> None:
        """Release reader ``name``'s card with the eject disposition (a feeder then inserts the
        next); called by the reader's worker, inside an operation."""


def reader_id(name: str) -> str:
    """A URL-safe id, stable for a reader name: a readable slug plus a hash of the full name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32].strip("-")
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else digest


class PcscBackend:
    """The PC/SC readers through :class:`cardservice.transport.pcsc.PcscDriver`; the monitor waits on its
    own context with the PnP pseudo-reader so that readers plugged in are noticed."""

    def __init__(self, driver) -> None:
        from cardservice.transport import pcsc  # the only module that imports pyscard

        self._pcsc = pcsc
        self._driver = driver
        self._monitor_context = pcsc.Context()
        self._states: dict[str, int] = {}
        self._conns: dict[str, CardConnection] = {}
        self._lock = threading.Lock()

    def readers(self) -> list[ReaderInfo]:
        return self._driver.readers()

    def connect(self, name: str) -> CardConnection:
        """A lease on this reader's kept connection (PC/SC connect costs a round trip per
        request otherwise); a connection the watchdog gave up on is replaced."""
        with self._lock:
            conn = self._conns.get(name)
            if conn is not None and conn.broken:
                del self._conns[name]  # never lend it again, even if reconnecting fails
        if conn is None or conn.broken:
            if conn is not None:
                logger.info("dropping the dead PC/SC connection to %r; reconnecting", name)
                conn.close()
            # connect outside the lock: a mute card may block its own connect, never another's
            # (each reader's worker serialises its operations, so one connect per reader at once).
            # The reader's worker thread owns the handle and calls PC/SC itself (no thread
            # hand-off per operation); the API watches it from outside (ReaderWorker.call_age).
            conn = self._driver.connect(name, watchdog=False)
            with self._lock:
                self._conns[name] = conn
        return _Lease(conn)

    def card_token(self, name: str) -> object | None:
        return self._driver.card_token(name)

    def eject(self, name: str) -> None:
        """Disconnect the kept connection to ``name`` with the eject disposition (pcscd powers a
        card down, a feeder's cue, only when no handle is left on it); the next operation on
        the reader connects to the next card."""
        with self._lock:
            conn = self._conns.pop(name, None)
        if conn is not None:
            conn.eject()

    def wait_for_change(self, timeout: float) -> None:
        names = self._driver.selection.filter(self._pcsc.list_readers(self._monitor_context))
        unaware = 0  # SCARD_STATE_UNAWARE
        known = {n: self._states.get(n, unaware) for n in names}
        known[self._pcsc.PNP_NOTIFICATION] = self._states.get(self._pcsc.PNP_NOTIFICATION, unaware)
        try:
            self._states = self._pcsc.wait_for_change(self._monitor_context, known,
                                                      int(timeout * 1000))
        except errors.CardServiceError:
            self._states = {}
            raise

    def cancel(self) -> None:
        """Nothing to do: the monitor's wait is bounded by its timeout (about a second)."""

    def close(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()
        self._monitor_context.close()
        self._driver.close()


class _Lease(CardConnection):
    """A kept connection lent to one operation; closing the lease keeps the connection."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.waits_for_card = conn.waits_for_card

    @property
    def atr(self) -> bytes:
        return self._conn.atr

    @property
    def reader_name(self) -> str:
        return self._conn.reader_name

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        return self._conn.send_and_receive(apdu)

    def begin_transaction(self) -> None:
        self._conn.begin_transaction()

    def end_transaction(self) -> None:
        self._conn.end_transaction()

    def exclusive(self, operation: Callable[[], T]) -> T:
        return self._conn.exclusive(operation)

    @property
    def call_age(self) -> float | None:
        return getattr(self._conn, "call_age", None)

    def close(self) -> None:
        """Nothing: the backend keeps the connection for the next operation."""


class ReaderWorker:
    """One reader's thread and a fair lock: a write queues behind the operation running now
    (at most ``write_wait`` seconds, then READER_BUSY) and reads that arrive after it wait
    behind it, so a write never loses to a stream of new reads; reads wait up to ``read_wait``.

    The thread owns the reader's connection and makes the PC/SC calls itself. A watchdog
    outside it (the API) reads :meth:`call_age` and gives up on a call that outlives its
    timeout (CARD_TIMEOUT, :meth:`mark_stuck`); the reader then stays busy until the blocked
    call returns (pcscd ends it when the mute card is pulled or answers again)."""

    def __init__(self, name: str, backend: ReaderBackend) -> None:
        self.name = name
        self.id = reader_id(name)
        self._backend = backend
        self._cond = threading.Condition()
        self._busy = False
        self._writers = 0  # writes waiting for the reader
        self._thread = JobThread(f"reader-{self.id}")
        self.stuck_since: float | None = None
        self._conn: CardConnection | None = None  # the connection of the running operation
        self._connecting_since: float | None = None

    def _free_for(self, write: bool) -> bool:
        return not self._busy and (write or self._writers == 0)

    def try_acquire(self, *, write: bool = False) -> bool:
        """Take the reader if it is free right now (never blocks; a read yields to a waiting
        write)."""
        with self._cond:
            if not self._free_for(write):
                return False
            self._busy = True
            return True

    def acquire(self, *, write: bool, read_wait: float, write_wait: float = 0.0) -> None:
        """Take the reader, waiting up to ``write_wait`` (a write) or ``read_wait`` (a read)."""
        with self._cond:
            if write:
                self._writers += 1
            try:
                got = self._cond.wait_for(lambda: self._free_for(write),
                                          write_wait if write else read_wait)
                if got:
                    self._busy = True
                    return
            finally:
                if write:
                    self._writers -= 1
                    self._cond.notify_all()  # reads held back for this write may go on
        if self.stuck_since is not None:
            raise errors.CardTimeoutError(
                f"reader {self.name!r}: an earlier card operation has not returned"
            )
        raise errors.ReaderBusyError(f"reader {self.name!r} is busy with another operation")

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def submit(self, operation: str, fn: Callable[[CardConnection], T]) -> concurrent.futures.Future:
        """Run ``fn(connection)`` on this reader's thread; the caller holds the lock (acquire)
        and the worker releases it when ``fn`` returns."""
        op = _Operation(self, operation, fn)
        return self._thread.submit(op.run, op.log)

    def submit_async(self, operation: str,
                     fn: Callable[[CardConnection], T]) -> asyncio.Future[T]:
        """:meth:`submit` for the running event loop: the reader's thread settles the future
        with one ``call_soon_threadsafe`` (no executor or chained futures in between)."""
        op = _Operation(self, operation, fn)
        return self._thread.submit_async(op.run, op.log)

    def _run(self, fn: Callable[[CardConnection], T]) -> T:
        try:
            self._connecting_since = time.monotonic()  # powering the card up may hang too
            conn = self._backend.connect(self.name)
            self._connecting_since, self._conn = None, conn
            with conn:
                return fn(conn)
        finally:
            self._conn = self._connecting_since = None
            self.stuck_since = None
            self.release()

    def call_age(self) -> float | None:
        """Seconds the PC/SC call (or the connect) now running on this reader has taken; None
        when none is running or the connection cannot tell."""
        since = self._connecting_since
        if since is not None:
            return time.monotonic() - since
        conn = self._conn
        return None if conn is None else getattr(conn, "call_age", None)

    def mark_stuck(self) -> None:
        if self.stuck_since is None:
            self.stuck_since = time.monotonic()

    def close(self) -> None:
        self._thread.close()


class _Operation:
    """One card operation on a worker's thread, and its log line, written after the caller
    has its answer."""

    def __init__(self, worker: ReaderWorker, name: str, fn: Callable[[CardConnection], T]) -> None:
        self.worker, self.name, self.fn = worker, name, fn
        self.started = 0.0

    def run(self) -> object:
        self.started = time.monotonic()
        return self.worker._run(self.fn)

    def log(self, exc: BaseException | None) -> None:
        code = getattr(exc, "code", type(exc).__name__) if exc is not None else "OK"
        ms = (time.monotonic() - self.started) * 1000
        reader = self.worker.name
        logger.info("card %s on %r: %s in %.0f ms", self.name, reader, code, ms,
                    extra={"operation": self.name, "reader": reader, "code": code,
                           "ms": round(ms, 1)})


class ReaderPool:
    """Workers by reader name, created on first use; resolves the API's reader ids."""

    def __init__(self, backend: ReaderBackend) -> None:
        self.backend = backend
        self._workers: dict[str, ReaderWorker] = {}
        self._names: dict[str, str] = {}  # reader id -> name, for readers resolved before
        self._lock = threading.Lock()

    def worker(self, name: str) -> ReaderWorker:
        with self._lock:
            worker = self._workers.get(name)
            if worker is None:
                worker = self._workers[name] = ReaderWorker(name, self.backend)
            return worker

    def resolve(self, rid: str) -> ReaderInfo:
        """The reader with id ``rid`` (lists the readers: blocking, call off the event loop)."""
        for info in self.backend.readers():
            if reader_id(info.name) == rid:
                with self._lock:
                    self._names[rid] = info.name
                return info
        raise errors.ReaderNotFoundError(f"no reader with id {rid!r}")

    def known(self, rid: str) -> ReaderInfo | None:
        """A reader resolved before (ids are a pure function of names), without PC/SC calls;
        if it has gone since, connecting to it reports READER_NOT_FOUND or NO_CARD."""
        with self._lock:
            name = self._names.get(rid)
        return ReaderInfo(name, True, None) if name is not None else None

    def close(self) -> None:
        with self._lock:
            for worker in self._workers.values():
                worker.close()
