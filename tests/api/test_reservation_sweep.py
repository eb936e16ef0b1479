"""The daemon releases expired write reservations by itself (at start and then every minute),
each release in the audit log."""

from __future__ import annotations

import time
from datetime import date, timedelta

from fastapi.testclient import TestClient

from cardservice.api import create_app
from cardservice.engine.service import Service
from cardservice.store.registry import Registry, Terms
from tests.api.conftest import BASE_URL, make_settings
from tests.clock import Clock

SERIAL = "00000000000000e1"


def test_the_daemon_releases_an_expired_reservation_at_start(home, backend):
    clock = Clock()
    registry = Registry(home / "registry.db")
    registry.reserve(serial=SERIAL, citizen_number="11010519491231002X", sequence=1,
                     terms=Terms("a", "temporary", None, date(2027, 1, 1)),
                     sponsor_citizen_number=None, now=clock() - timedelta(minutes=30))
    registry.close()
    app = create_app(make_settings(home), service=Service.open(home, clock=clock),
                     backend=backend, clock=clock)
    with TestClient(app, base_url=BASE_URL):
        runtime = app.state.runtime
        deadline = time.monotonic() + 10
        while not (events := _releases(runtime)) and time.monotonic() < deadline:
            time.sleep(0.05)  # the sweep runs on its own task: poll for its audit entry
        [event] = events
        assert event.card_serial == SERIAL and event.detail["reason"] == "expired"
        assert runtime.registry().get(SERIAL) is None


def _releases(runtime) -> list:
    return [e for e in runtime.audit().entries() if e.operation == "release_reservation"]
