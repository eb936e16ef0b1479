"""Application service and production on each storage backend, with in-process cards."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from cardservice.engine.operations import Engine
from cardservice.pki.keys import load_keys
from cardservice.store.applications import ApplicationStore
from cardservice.workflow.calendar import WorkingDayCalendar
from cardservice.workflow.model import Application, Kind, Residence
from cardservice.workflow.service import Actor, ApplicationService
from tests.clock import Clock
from tests.engine.conftest import demo_home  # noqa: F401  (session fixture)
from tests.workflow_fixtures import NOW

CLERK = Actor("clerk-a", "site-a")
CERTIFIER = Actor("certifier-1", "county")


@dataclasses.dataclass
class World:
    service: ApplicationService
    engine: Engine
    clock: Clock


@pytest.fixture
def world(backend, demo_home) -> World:  # noqa: F811
    clock = Clock()
    stores = backend.stores()
    registry, audit = stores.registry(), stores.audit()
    engine = Engine(load_keys(demo_home), registry, audit, clock=clock)
    store = ApplicationStore(stores.database("applications"))
    service = ApplicationService(store, registry, audit, WorkingDayCalendar.load(), clock)
    return World(service, engine, clock)


def draft(identity: dict, kind: Kind = Kind.FIRST_ISSUE, **changes) -> Application:
    app = Application(id="", kind=kind, identity=dict(identity),
                      residence=Residence("示范县城关镇幸福路1号", "temporary"), site="",
                      submitted_at=NOW, submitted_by="", due_on=date(2000, 1, 1))
    return dataclasses.replace(app, **changes)
