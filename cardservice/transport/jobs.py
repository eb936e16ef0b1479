"""One thread that runs jobs in order, for a reader's worker: each job's outcome settles the
caller's future (a ``concurrent.futures`` one for threads, an ``asyncio`` one for the event loop,
settled with a single ``call_soon_threadsafe``), and only then does the job's follow-up (a log
line) run, so the caller is not kept waiting for it: on the job's thread for a thread's future,
on the event loop after the awakened task's step for an asyncio one."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Called on the thread after the caller's future is settled, with the job's exception or None.
FollowUp = Callable[[BaseException | None], None]


@dataclass(frozen=True)
class _Job:
    fn: Callable[[], object]
    #: hands (result, exception) to the caller's future
    settle: Callable[[object, BaseException | None], None]
    cancel: Callable[[], None]
    then: FollowUp | None


class JobThread:
    """A daemon thread, started with the first job: a job blocked on a mute card never holds up
    the process's exit. Jobs queue in order; :meth:`close` cancels those not started."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, fn: Callable[[], T], then: FollowUp | None = None) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()

        def settle(result: object, exc: BaseException | None) -> None:
            if future.set_running_or_notify_cancel():  # False: cancelled meanwhile
                _settle(future, result, exc)

        self._put(_Job(fn, settle, future.cancel, then))
        return future

    def submit_async(self, fn: Callable[[], T],
                     then: FollowUp | None = None) -> asyncio.Future[T]:
        """A future of the running event loop. One that is already done when the job ends
        (cancelled, or given up on by a watchdog) keeps its outcome. ``then`` runs on the loop,
        after the step of the task the outcome woke (which usually sends its answer): on the
        job's thread it would hold the GIL just when the loop needs it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: object, exc: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed (shutdown)
                loop.call_soon_threadsafe(self._settle_on_loop, loop, future, result, exc, then)

        def cancel() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(future.cancel)

        self._put(_Job(fn, settle, cancel, None))
        return future

    def _settle_on_loop(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future,
                        result: object, exc: BaseException | None, then: FollowUp | None) -> None:
        _settle(future, result, exc)  # schedules the waiting task's next step
        if then is not None:
            loop.call_soon(self._follow, then, exc)  # queued behind that step

    def close(self) -> None:
        """Cancel the jobs not started; the running one finishes, then the thread ends."""
        with self._lock:
            self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
        self._jobs.put(None)

    def _put(self, job: _Job) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                result, exc = job.fn(), None
            except BaseException as error:  # noqa: BLE001 - the caller's, as an executor does
                result, exc = None, error
            job.settle(result, exc)
            if job.then is not None:
                self._follow(job.then, exc)
            del job, result, exc

    def _follow(self, then: FollowUp, exc: BaseException | None) -> None:
        try:
            then(exc)
        except Exception:
            logger.exception("%s: a job's follow-up failed", self.name)


def _settle(future, result: object, exc: BaseException | None) -> None:
    """Set a future's outcome unless it has one already."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
