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
from cardservice.workflow.production import DirectAccess
from cardservice.workflow.service import Actor, ApplicationService
from simulator.inprocess import InProcessConnection
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


class InProcessFeeder:
    """Readers each holding a stack of in-process cards: an ejected card leaves its reader and
    the next one of the stack comes in (what `cardsim serve --feeder` does through pcscd)."""

    def __init__(self, stacks: dict[str, list]) -> None:
        self.stacks = {reader: list(cards) for reader, cards in stacks.items()}
        self.ejected: list = []

    def card_token(self, reader: str) -> object | None:
        return id(self.stacks[reader][0]) if self.stacks[reader] else None

    def connect(self, reader: str):
        from cardservice import errors

        if not self.stacks[reader]:
            raise errors.NoCardError(f"no card in {reader}")
        return _EjectingConnection(self, reader, self.stacks[reader][0])

    def access(self) -> DirectAccess:
        return DirectAccess(self.connect, self.card_token)

    def take(self, reader: str) -> None:
        self.ejected.append(self.stacks[reader].pop(0))


class _EjectingConnection(InProcessConnection):
    def __init__(self, feeder: InProcessFeeder, reader: str, card) -> None:
        super().__init__(card)
        self._feeder, self._reader = feeder, reader

    def eject(self) -> None:
        self.close()
        self._feeder.take(self._reader)
