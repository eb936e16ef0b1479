"""What the routes share while the daemon runs: settings, the service (engine, registry, audit),
tokens, the reader pool, the event bus and monitor, the idempotency store; and the one way
routes run card I/O (on the reader's worker thread, bounded by the operation timeout)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from cardservice import errors
from cardservice.config import Settings
from cardservice.engine.expiry import SWEEP_INTERVAL_S
from cardservice.engine.operations import Engine
from cardservice.engine.service import Service
from cardservice.face import LayoutError
from cardservice.pairing import PairingService
from cardservice.store.audit import AuditLog
from cardservice.store.idempotency import IdempotencyStore
from cardservice.store.pairing import PairingStore
from cardservice.store.registry import Registry
from cardservice.store.tokens import TokenStore
from cardservice.transport import CardConnection
from cardservice.transport.events import EventBus, Monitor
from cardservice.transport.readers import ReaderInfo, ReaderPool, ReaderWorker, reader_id

logger = logging.getLogger(__name__)

T = TypeVar("T")


class KeyedLocks:
    """An asyncio lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class Runtime:
    settings: Settings
    service: Service
    tokens: TokenStore
    pool: ReaderPool
    bus: EventBus
    monitor: Monitor
    idempotency: IdempotencyStore
    clock: Callable[[], datetime]

    #: Idempotency keys in flight: a second request with the key waits for the first.
    key_locks: KeyedLocks = field(default_factory=KeyedLocks)
    _stores: dict[str, object] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.service.engine

    def load_engine(self) -> None:
        """Load the keys now so that a missing key is logged at start-up (the daemon still
        serves health and the registry; card routes answer KEYS_MISSING)."""
        try:
            engine = self.engine
        except errors.CardServiceError as exc:
            logger.warning("card operations unavailable: %s (%s)", exc.message, exc.code)
            return
        self._stores.update(registry=engine.registry, audit=engine.audit)
        try:
            engine.face.warm()  # the face check of every write must not load fonts mid-operation
        except LayoutError as exc:
            logger.warning("card faces unavailable: %s", exc)

    def registry(self) -> Registry:
        if "registry" not in self._stores:
            self._stores["registry"] = self.service.registry()
        return self._stores["registry"]

    def audit(self) -> AuditLog:
        if "audit" not in self._stores:
            self._stores["audit"] = self.service.audit()
        return self._stores["audit"]

    def pairing(self) -> PairingService:
        if "pairing" not in self._stores:
            store = PairingStore(self.service.stores.database("pairing"))
            self._stores["pairing"] = PairingService(store, self.tokens, self.audit, self.clock)
        return self._stores["pairing"]

    async def sweep_reservations(self, interval: float = SWEEP_INTERVAL_S) -> None:
        """Release expired write reservations now and every ``interval`` seconds (each release
        audited; engine/expiry.py). Runs until cancelled; a sweep that fails (database offline,
        keys missing) is logged and tried again next time."""
        while True:
            try:
                await asyncio.to_thread(self.engine.release_expired)
            except errors.CardServiceError as exc:
                logger.debug("reservation sweep skipped: %s (%s)", exc.message, exc.code)
            except Exception:  # the sweep must not die with one bad round
                logger.exception("reservation sweep failed")
            await asyncio.sleep(interval)

    async def blocking(self, fn: Callable[..., T], *args: object) -> T:
        """Run a short blocking call (listing readers) off the loop, bounded in time."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args),
                                          self.settings.pcsc_timeout)
        except TimeoutError:
            raise errors.PcscUnavailableError("PC/SC did not answer in time") from None

    async def readers(self) -> list[ReaderInfo]:
        return await self.blocking(self.pool.backend.readers)

    async def on_card(self, rid: str, operation: str, fn: Callable[[CardConnection], T], *,
                      write: bool) -> T:
        """Run ``fn(conn)`` on reader ``rid``'s thread: a write queues fairly behind the running
        operation (409 READER_BUSY after ``write_wait``), 504 CARD_TIMEOUT after
        ``operation_timeout``."""
        info = self.pool.known(rid) or await self.blocking(self.pool.resolve, rid)
        worker = self.pool.worker(info.name)
        if not worker.try_acquire(write=write):  # busy: wait for it off the event loop
            await asyncio.to_thread(worker.acquire, write=write,
                                    read_wait=self.settings.read_wait,
                                    write_wait=self.settings.write_wait)
        future = worker.submit_async(operation, fn)
        return await self._watch(worker, future, info.name, operation)

    async def _watch(self, worker: ReaderWorker, future: asyncio.Future[T], reader: str,
                     operation: str) -> T:
        """Await a card operation under its watchdog, a timer that acts only on a timeout:
        CARD_TIMEOUT once one PC/SC call (or the connect) outlives ``pcsc_timeout`` or the whole
        operation outlives ``operation_timeout``; the reader stays busy until its thread
        returns (its late outcome is dropped)."""
        loop = asyncio.get_running_loop()
        per_call = self.settings.pcsc_timeout
        deadline = time.monotonic() + self.settings.operation_timeout

        def check() -> None:
            nonlocal timer
            if future.done():
                return
            age = worker.call_age()
            call_hung = age is not None and age >= per_call
            if call_hung or time.monotonic() >= deadline:
                worker.mark_stuck()
                limit = (f"{per_call:g} s for one command" if call_hung
                         else f"{self.settings.operation_timeout:g} s")
                future.set_exception(errors.CardTimeoutError(
                    f"the card in {reader!r} did not finish {operation} within {limit}"))
                return
            timer = loop.call_later(_next_check(per_call, deadline), check)

        timer = loop.call_later(_next_check(per_call, deadline), check)
        try:
            return await future
        finally:
            timer.cancel()

    async def write(self, rid: str, operation: str, fn: Callable[[CardConnection], T]) -> T:
        """A card write with write_started / write_finished events around it."""
        fields = {"reader_id": rid, "operation": operation}
        self.bus.publish("write_started", **fields)
        try:
            result = await self.on_card(rid, operation, fn, write=True)
        except errors.CardServiceError as exc:
            self.bus.publish("write_finished", **fields, ok=False, code=exc.code)
            raise
        serial = getattr(result, "serial", None)
        self.bus.publish("write_finished", **fields, ok=True,
                         card_serial=serial.hex() if isinstance(serial, bytes) else None)
        return result

    def reconcile_reader(self, info: ReaderInfo) -> None:
        """Resolve pending audit intents for the card just seen in ``info`` (monitor thread)."""
        try:
            if not self.audit().pending():
                return
            worker = self.pool.worker(info.name)
            worker.acquire(write=True, read_wait=0)
        except errors.CardServiceError as exc:
            logger.info("no reconciliation on %r now: %s", info.name, exc.code)
            return
        future = worker.submit("reconcile", self.engine.reconcile)
        future.add_done_callback(lambda f: _log_reconciled(info, f))


def _next_check(per_call: float, deadline: float) -> float:
    return max(min(per_call, deadline - time.monotonic()), 0)


def _log_reconciled(info: ReaderInfo, future) -> None:
    exc = future.exception()
    if exc is not None:
        logger.warning("reconciliation on %r failed: %s", info.name, exc)
    elif future.result():
        logger.info("reconciled intents %s on %r (%s)", future.result(), info.name,
                    reader_id(info.name))
