"""The application factory: ``create_app(settings, *, service=None, backend=None, clock=None)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cardservice import __version__, console, errors
from cardservice.api import openapi
from cardservice.api.cardlane import CardReadLane
from cardservice.api.errors import install_handlers
from cardservice.api.models import ErrorBody
from cardservice.api.routes import (
    applications,
    audit,
    cards,
    events,
    face,
    health,
    pairing,
    production,
    readers,
)
from cardservice.api.runtime import Runtime
from cardservice.api.security import LocalGuard
from cardservice.api.verifymode import VerifyOnlyGuard
from cardservice.config import Settings
from cardservice.engine.area import SiteArea
from cardservice.engine.operations import Clock, utc_now
from cardservice.engine.service import Service
from cardservice.store.stores import Stores
from cardservice.transport.events import EventBus, Monitor
from cardservice.transport.readers import PcscBackend, ReaderBackend, ReaderPool

logger = logging.getLogger(__name__)

DESCRIPTION = """Local card service for RP1 residence-permit cards. Every route except
`/v1/health` needs `Authorization: Bearer <token>` (`cardservice token create`). Errors are
`{"error": {"code", "message", "retriable"}}` with stable codes."""


def build_runtime(settings: Settings, *, service: Service | None = None,
                  backend: ReaderBackend | None = None, clock: Clock | None = None) -> Runtime:
    clock = clock or utc_now
    service = service or Service.open(
        settings.home, clock=clock, pcsc_timeout=settings.pcsc_timeout, mode=settings.mode,
        stores=Stores(settings.home, database_url=settings.database_url,
                      site_id=settings.site_id),
        require_applications=settings.applications_required,
        site_area=SiteArea.parse(settings.site_area),
        readers=settings.reader_selection)
    service.reservation_ttl = timedelta(minutes=settings.reservation_ttl_minutes)
    service.request_window = timedelta(hours=settings.idempotency_ttl_hours)
    service.home.ensure()
    _check_schema(service.stores)
    if settings.readers:
        logger.info("readers: only %s (CARDSERVICE_READERS)", ", ".join(settings.readers))
    backend = backend or PcscBackend(service.driver)
    bus = EventBus(clock, max_subscribers=settings.max_subscribers,
                   max_per_owner=settings.max_subscribers_per_token)
    runtime = Runtime(
        settings=settings, service=service, tokens=service.stores.tokens(),
        pool=ReaderPool(backend), bus=bus, monitor=Monitor(backend, bus),
        idempotency=service.stores.idempotency(
            ttl=timedelta(hours=settings.idempotency_ttl_hours)),
        clock=clock,
    )
    runtime.monitor.on_card = runtime.reconcile_reader
    return runtime


def _check_schema(stores: Stores) -> None:
    """Refuse to start on a schema older than the code (SchemaOutdatedError names the command);
    an unreachable database is not fatal: the daemon starts offline and recovers by itself."""
    try:
        stores.check_current()
    except errors.RegistryUnavailableError as exc:
        logger.warning("starting offline: %s", exc.message)


def _lifespan(runtime: Runtime):
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.load_engine()
        runtime.idempotency.prune(runtime.clock())
        runtime.monitor.start()  # its first poll reconciles pending intents of cards present
        sweeper = asyncio.create_task(
            runtime.sweep_reservations(runtime.settings.reservation_sweep_seconds),
            name="reservation-sweep")
        logger.info("cardservice %s ready", __version__)
        try:
            yield
        finally:
            sweeper.cancel()
            runtime.monitor.stop()
            runtime.pool.close()

    return lifespan


def create_app(settings: Settings, *, service: Service | None = None,
               backend: ReaderBackend | None = None, clock: Clock | None = None) -> FastAPI:
    runtime = build_runtime(settings, service=service, backend=backend, clock=clock)
    app = FastAPI(title="cardservice", version=__version__, description=DESCRIPTION,
                  lifespan=_lifespan(runtime), docs_url=None, redoc_url=None,
                  responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})
    app.state.runtime = runtime
    install_handlers(app)
    openapi.install(app)
    for module in (health, readers, cards, audit, events, face, pairing, applications,
                   production):
        app.include_router(module.router)
    console.install(app, runtime)  # /console/ and an offline /docs
    app.add_middleware(CardReadLane, runtime=runtime)  # inside CORS and the guards below
    if settings.cors and settings.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key"])
    if settings.mode == "verify" or runtime.service.mode == "verify":
        app.add_middleware(VerifyOnlyGuard)
    app.add_middleware(LocalGuard, settings=settings,  # outermost: runs before anything else
                       token_known=lambda secret: runtime.tokens.authenticate(secret) is not None,
                       session_known=lambda secret: app.state.console.accounts.clerk(
                           secret) is not None)
    return app
