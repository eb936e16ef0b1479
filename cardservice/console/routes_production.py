"""Production runs in the console (certifier): choose readers, start a run, follow its progress
live (the page polls the run's progress; no reload). The run is the API's
(:func:`cardservice.api.routes.production.start_run`), with the clerk as its actor."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cardservice import errors
from cardservice.api.application_models import ProductionRunIn
from cardservice.api.routes.applications import applications
from cardservice.api.routes.production import find_run, progress_of, start_run
from cardservice.console.web import PREFIX, clerk_of, console_of, posted_form, redirect, render
from cardservice.roles import Role
from cardservice.transport.readers import reader_id
from cardservice.workflow.model import State
from cardservice.workflow.service import Actor

logger = logging.getLogger(__name__)

router = APIRouter(prefix=f"{PREFIX}/production", include_in_schema=False)


async def _page(request: Request, clerk, field_errors: dict[str, str] | None = None,
                status: int = 200) -> Response:
    runtime = console_of(request).runtime
    try:
        infos = await runtime.readers()
    except errors.CardServiceError:
        infos = []
    readers = [(reader_id(i.name), i.name) for i in sorted(infos, key=lambda i: i.name)]
    svc = applications(runtime)
    waiting = await asyncio.to_thread(
        lambda: svc.views(svc.find(status=State.CERTIFIED.value)))
    return render(request, "production.html", clerk=clerk, readers=readers,
                  waiting=len(waiting), unsettled=[a for a in waiting if a["unsettled_write"]],
                  field_errors=field_errors or {}, status=status)


@router.get("")
async def production_page(request: Request) -> Response:
    clerk = await clerk_of(request, Role.CERTIFIER)
    return await _page(request, clerk)


@router.post("")
async def production_start(request: Request) -> Response:
    clerk, form = await posted_form(request, Role.CERTIFIER)
    chosen = [v for k, v in parse_qsl((await request.body()).decode("utf-8", "replace"))
              if k == "reader"]  # a checkbox list repeats its name
    try:
        body = ProductionRunIn.model_validate({
            "readers": chosen or "all",
            "limit": form.get("limit", "").strip() or None,
            "card_wait": form.get("card_wait", "").strip() or 30.0})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise errors.ValidationError(str(first["loc"][0]), first["msg"], first["type"]) from None
    runtime = console_of(request).runtime
    run = await start_run(runtime, body, Actor(clerk.actor, runtime.service.site_id))
    return redirect(f"{PREFIX}/production/{run.run_id}")


@router.get("/{run_id}")
async def run_page(run_id: str, request: Request) -> Response:
    clerk = await clerk_of(request, Role.CERTIFIER)
    run = find_run(console_of(request).runtime, run_id)
    return render(request, "production_run.html", clerk=clerk, run=progress_of(run))


@router.post("/{run_id}/stop")
async def run_stop(run_id: str, request: Request) -> Response:
    """The run's Stop button: the cards in its readers are finished, no reader takes another."""
    clerk, _form = await posted_form(request, Role.CERTIFIER)
    run = find_run(console_of(request).runtime, run_id)
    if run.progress.state == "running":
        run.stop()
        logger.info("production run %s: stop asked by %s (console)", run_id, clerk.actor)
    return redirect(f"{PREFIX}/production/{run_id}")


@router.get("/{run_id}/progress")
async def run_progress(run_id: str, request: Request) -> JSONResponse:
    await clerk_of(request, Role.CERTIFIER)
    run = find_run(console_of(request).runtime, run_id)
    return JSONResponse(progress_of(run), headers={"Cache-Control": "no-store"})
