"""Production runs at the county centre: start one over some (or all) readers, follow it.
Progress also goes to ``/v1/events`` as ``production.progress`` events. A run's card operations
go through the daemon's reader workers (:class:`WorkerAccess`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any

from fastapi import APIRouter

from cardservice import errors
from cardservice.api.application_models import ProductionRunIn, ProductionRunOut
from cardservice.api.deps import CertifierClient, ReaderClient, RuntimeDep
from cardservice.api.models import ErrorBody
from cardservice.api.routes.applications import actor, applications
from cardservice.api.runtime import Runtime
from cardservice.transport.readers import reader_id
from cardservice.workflow.printing import face_printer
from cardservice.workflow.production import ProductionRun, Progress
from cardservice.workflow.service import Actor

logger = logging.getLogger(__name__)

router = APIRouter(tags=["production"])


def _runs(runtime: Runtime) -> dict[str, ProductionRun]:
    return runtime._stores.setdefault("production_runs", {})  # type: ignore[return-value]


def _event(runtime: Runtime, progress: Progress) -> None:
    fields = progress.as_dict()
    fields["print_failures"] = [{"application_id": r["application_id"],
                                 "card_serial": r["card_serial"], "error": r["print"]["error"]}
                                for r in fields.pop("results")
                                if (r["print"] or {}).get("status") == "failed"]
    fields["run_id"] = fields.pop("id")
    runtime.bus.publish("production.progress", **fields)


async def _reader_names(runtime: Runtime, wanted: list[str] | str) -> list[str]:
    names = [r.name for r in await runtime.readers()]
    if wanted == "all":
        return names
    by_id = {reader_id(n): n for n in names}
    chosen = []
    for item in wanted:
        name = item if item in names else by_id.get(item)
        if name is None:
            raise errors.ReaderNotFoundError(f"no reader {item!r}")
        chosen.append(name)
    return chosen


class WorkerAccess:
    """A run's card I/O through the daemon's reader workers: each card's production holds its
    reader's lock and queues like a write (fairly, behind the operation running now), so a read
    from another client waits (or gets READER_BUSY) instead of interleaving with the run."""

    def __init__(self, runtime: Runtime) -> None:
        self._pool = runtime.pool
        #: how long a card waits for its reader (a longer busy reader is stuck)
        self._wait = max(runtime.settings.write_wait, runtime.settings.operation_timeout)
        #: one PC/SC call longer than this is a mute card (the API's watchdog limit)
        self._per_call = runtime.settings.pcsc_timeout

    def card_token(self, reader: str) -> object | None:
        return self._pool.backend.card_token(reader)

    def use(self, reader: str, fn):
        """``fn`` on the reader's worker; CARD_TIMEOUT when one card command hangs (the reader
        stays busy until it returns, as for any request)."""
        worker = self._pool.worker(reader)
        worker.acquire(write=True, read_wait=0.0, write_wait=self._wait)
        future = worker.submit("produce", fn)
        while True:
            try:
                return future.result(timeout=self._per_call)
            except concurrent.futures.TimeoutError:
                age = worker.call_age()
                if age is not None and age >= self._per_call:
                    worker.mark_stuck()
                    future.add_done_callback(lambda f: f.cancelled() or f.exception())
                    raise errors.CardTimeoutError(
                        f"the card in {reader!r} did not answer within {self._per_call:g} s "
                        "during production") from None

    def eject(self, conn) -> None:
        self._pool.backend.eject(conn.reader_name)


@router.post("/v1/production/runs", response_model=ProductionRunOut, status_code=202,
             responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
async def start(body: ProductionRunIn, runtime: RuntimeDep, client: CertifierClient) -> Any:
    run = await start_run(runtime, body, actor(runtime, client))
    return progress_of(run)


async def start_run(runtime: Runtime, body: ProductionRunIn, by: Actor) -> ProductionRun:
    """Start a run in its own thread (the API's and the console's); READER_BUSY if one runs."""
    runs = _runs(runtime)
    if any(r.progress.state == "running" for r in runs.values()):
        raise errors.ReaderBusyError("a production run is already running on this daemon")
    readers = await _reader_names(runtime, body.readers)
    engine = await asyncio.to_thread(lambda: runtime.engine)
    run = ProductionRun(applications(runtime), engine, WorkerAccess(runtime), readers, by,
                        limit=body.limit, card_wait=body.card_wait,
                        on_progress=lambda p: _event(runtime, p),
                        on_produced=face_printer(lambda: engine.face, runtime.settings.printer))
    runs[run.run_id] = run
    threading.Thread(target=_run_logged, args=(run,), name=run.run_id, daemon=True).start()
    return run


def find_run(runtime: Runtime, run_id: str) -> ProductionRun:
    run = _runs(runtime).get(run_id)
    if run is None:
        raise errors.NotFoundError(f"no production run {run_id}")
    return run


def _run_logged(run: ProductionRun) -> None:
    try:
        run.run()
    except Exception:  # a bug must end the run visibly, not silently
        logger.exception("production run %s failed", run.run_id)
        run.progress.state = "failed"


def progress_of(run: ProductionRun) -> dict:
    """A run's progress; ``stopping`` once a stop was asked for and the run still runs."""
    fields = run.progress.as_dict()
    fields["stop_requested"] = run.stopping
    return fields


@router.get("/v1/production/runs", response_model=list[ProductionRunOut])
async def index(runtime: RuntimeDep, client: ReaderClient) -> Any:
    """This daemon's runs since it started, the newest first."""
    return [progress_of(r) for r in reversed(list(_runs(runtime).values()))]


@router.get("/v1/production/runs/{run_id}", response_model=ProductionRunOut,
            responses={404: {"model": ErrorBody}})
async def show(run_id: str, runtime: RuntimeDep, client: ReaderClient) -> Any:
    return progress_of(find_run(runtime, run_id))


@router.post("/v1/production/runs/{run_id}/stop", response_model=ProductionRunOut,
             status_code=202, responses={404: {"model": ErrorBody}})
async def stop(run_id: str, runtime: RuntimeDep, client: CertifierClient) -> Any:
    """Stop a run: the cards in its readers now are finished (and linked), no reader takes
    another; the run's state becomes ``stopped`` when they are. A run that has ended is left
    as it is."""
    run = find_run(runtime, run_id)
    if run.progress.state == "running":
        run.stop()
        logger.info("production run %s: stop asked by %s", run_id, client.name)
    return progress_of(run)
