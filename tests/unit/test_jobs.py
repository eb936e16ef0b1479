"""The reader worker's job thread: outcomes reach concurrent and asyncio futures, the follow-up
(a log line) runs only after the caller has its answer, a future given up on keeps its
outcome, and closing cancels what has not started."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

import pytest

from cardservice import errors
from cardservice.transport.jobs import JobThread

WAIT = 10.0  # seconds: only a bound for a broken implementation, never reached when it works


@pytest.fixture
def jobs():
    thread = JobThread("test-jobs")
    yield thread
    thread.close()


def test_result_and_exception_reach_a_concurrent_future(jobs: JobThread) -> None:
    assert jobs.submit(lambda: 41 + 1).result(WAIT) == 42
    future = jobs.submit(lambda: (_ for _ in ()).throw(errors.NoCardError("gone")))
    with pytest.raises(errors.NoCardError, match="gone"):
        future.result(WAIT)


def test_jobs_run_in_order_on_one_named_thread(jobs: JobThread) -> None:
    seen: list[tuple[int, str]] = []
    futures = [jobs.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
               for i in range(5)]
    concurrent.futures.wait(futures, WAIT)
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"test-jobs"}


def test_follow_up_runs_after_the_caller_has_its_answer(jobs: JobThread) -> None:
    done_when_followed: list[bool] = []
    followed = threading.Event()
    holder: dict[str, concurrent.futures.Future] = {}
    ready = threading.Event()

    def job() -> str:
        ready.wait(WAIT)
        return "read"

    def then(exc: BaseException | None) -> None:
        done_when_followed.append(holder["future"].done() and exc is None)
        followed.set()

    holder["future"] = jobs.submit(job, then)
    ready.set()
    assert holder["future"].result(WAIT) == "read"
    assert followed.wait(WAIT)
    assert done_when_followed == [True]


def test_follow_up_gets_the_exception_and_a_failing_one_is_logged(
        jobs: JobThread, caplog: pytest.LogCaptureFixture) -> None:
    got: list[BaseException | None] = []

    def then(exc: BaseException | None) -> None:
        got.append(exc)
        raise ValueError("log line failed")

    with caplog.at_level(logging.ERROR, logger="cardservice.transport.jobs"):
        failed = jobs.submit(lambda: 1 / 0, then)
        with pytest.raises(ZeroDivisionError):
            failed.result(WAIT)
        assert jobs.submit(lambda: "still serving").result(WAIT) == "still serving"
    assert isinstance(got[0], ZeroDivisionError)
    assert "follow-up failed" in caplog.text


def test_asyncio_future_is_settled_on_the_loop() -> None:
    jobs = JobThread("test-async")

    async def main() -> tuple[int, str]:
        value = await jobs.submit_async(lambda: 7)
        try:
            await jobs.submit_async(lambda: (_ for _ in ()).throw(errors.ReaderBusyError("busy")))
        except errors.ReaderBusyError as exc:
            return value, exc.code
        return value, "no error"

    try:
        assert asyncio.run(main()) == (7, "READER_BUSY")
    finally:
        jobs.close()


def test_async_follow_up_runs_on_the_loop_after_the_caller_resumed() -> None:
    jobs = JobThread("test-async-follow")
    order: list[str] = []

    async def main() -> None:
        loop_thread = threading.current_thread()

        def then(exc: BaseException | None) -> None:
            on_loop = threading.current_thread() is loop_thread
            order.append(f"follow-up (on the loop: {on_loop}, error: {exc is not None})")

        assert await jobs.submit_async(lambda: "card", then) == "card"
        order.append("caller")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    try:
        asyncio.run(main())
    finally:
        jobs.close()
    assert order == ["caller", "follow-up (on the loop: True, error: False)"]


def test_a_future_given_up_on_keeps_its_outcome() -> None:
    """The watchdog's CARD_TIMEOUT stays the request's answer when the hung call returns."""
    jobs = JobThread("test-giveup")
    release = threading.Event()

    async def main() -> str:
        followed = asyncio.Event()  # set on this loop once the late outcome has come in
        future = jobs.submit_async(lambda: release.wait(WAIT) and "late result",
                                   lambda exc: followed.set())
        future.set_exception(errors.CardTimeoutError("watchdog"))
        release.set()
        await asyncio.wait_for(followed.wait(), WAIT)
        try:
            await future
        except errors.CardTimeoutError as exc:
            return exc.message
        return "overwritten"

    try:
        assert asyncio.run(main()) == "watchdog"
    finally:
        jobs.close()


def test_close_cancels_jobs_not_started() -> None:
    jobs = JobThread("test-close")
    started, gate = threading.Event(), threading.Event()
    running = jobs.submit(lambda: started.set() or (gate.wait(WAIT) and "finished"))
    assert started.wait(WAIT)
    waiting = jobs.submit(lambda: "never")
    jobs.close()
    assert waiting.cancelled()
    gate.set()
    assert running.result(WAIT) == "finished"
    with pytest.raises(RuntimeError, match="closed"):
        jobs.submit(lambda: None)
