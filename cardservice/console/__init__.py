"""The clerks' web console under ``/console/`` (server-rendered pages, zh-CN and English), and a
``/docs`` that works offline. :func:`install` adds both to the daemon's app."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cardservice.api.runtime import Runtime
from cardservice.console import (
    docs,
    routes_applications,
    routes_audit,
    routes_auth,
    routes_cards,
    routes_production,
    routes_writes,
)
from cardservice.console.accounts import Accounts
from cardservice.console.web import PREFIX, Console, build_env, install_handlers

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, runtime: Runtime) -> None:
    accounts = Accounts(runtime.service.stores.users(), runtime.clock,
                        idle=timedelta(minutes=runtime.settings.console_idle_minutes))
    verify_only = "verify" in (runtime.settings.mode, runtime.service.mode)
    app.state.console = Console(runtime=runtime, accounts=accounts, env=build_env(),
                                verify_only=verify_only)
    install_handlers(app)
    # routes_cards before routes_writes: /readers/{rid}/verdict is not a write form
    for module in (routes_auth, routes_cards, routes_writes, routes_audit,
                   routes_applications, routes_production):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    docs.install(app)
