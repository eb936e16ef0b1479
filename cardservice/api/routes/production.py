"""Production runs at the county centre: start one over some (or all) readers, follow it.
Progress also goes to ``/v1/events`` as ``production.progress`` events."""

from __future__ import annotations

import asyncio
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


def _card_io(runtime: Runtime):
    """Production takes its own PC/SC connections (it ejects cards), not the pool's leases:
    ``(connect, card_token)`` of the PC/SC driver (tests put their own in the runtime)."""
    custom = runtime._stores.get("production_card_io")
    if custom is not None:
        return custom
    driver = runtime.service.driver
    return driver.connect, driver.card_token


@router.post("/v1/production/runs", response_model=ProductionRunOut, status_code=202,
             responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
async def start(body: ProductionRunIn, runtime: RuntimeDep, client: CertifierClient) -> Any:
    run = await start_run(runtime, body, actor(runtime, client))
    return run.progress.as_dict()


async def start_run(runtime: Runtime, body: ProductionRunIn, by: Actor) -> ProductionRun:
    """Start a run in its own thread (the API's and the console's); READER_BUSY if one runs."""
    runs = _runs(runtime)
    if any(r.progress.state == "running" for r in runs.values()):
        raise errors.ReaderBusyError("a production run is already running on this daemon")
    readers = await _reader_names(runtime, body.readers)
    engine = await asyncio.to_thread(lambda: runtime.engine)
    connect, card_token = _card_io(runtime)
    run = ProductionRun(applications(runtime), engine, connect, card_token, readers, by,
                        limit=body.limit, card_wait=body.card_wait,
                        release=getattr(runtime.pool.backend, "release_reader", None),
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


@router.get("/v1/production/runs/{run_id}", response_model=ProductionRunOut,
            responses={404: {"model": ErrorBody}})
async def show(run_id: str, runtime: RuntimeDep, client: ReaderClient) -> Any:
    return find_run(runtime, run_id).progress.as_dict()
