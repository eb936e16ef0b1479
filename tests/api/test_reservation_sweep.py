"""The daemon releases expired write reservations by itself (at start and then every minute, or
every CARDSERVICE_RESERVATION_SWEEP_SECONDS), each release in the audit log."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pydantic
import pytest
from fastapi.testclient import TestClient

from cardservice import errors
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


def test_the_ttl_and_the_sweep_interval_are_settings(home, backend):
    """CARDSERVICE_RESERVATION_TTL_MINUTES / _SWEEP_SECONDS: a reservation 2 minutes old is
    kept with the default 10-minute TTL and released by a later sweep once the TTL is 1 minute
    (the daemon sweeps again without a restart, every 0.05 s here)."""
    clock = Clock()
    registry = Registry(home / "registry.db")
    registry.reserve(serial=SERIAL, citizen_number="11010519491231002X", sequence=1,
                     terms=Terms("a", "temporary", None, date(2027, 1, 1)),
                     sponsor_citizen_number=None, now=clock())
    registry.close()
    settings = make_settings(home, reservation_ttl_minutes=1, reservation_sweep_seconds=0.05)
    app = create_app(settings, service=Service.open(home, clock=clock), backend=backend,
                     clock=clock)
    with TestClient(app, base_url=BASE_URL):
        runtime = app.state.runtime
        assert runtime.engine.reservation_ttl == timedelta(minutes=1)
        assert _releases(runtime) == []  # reserved just now: not expired at start
        clock.advance(minutes=2)
        deadline = time.monotonic() + 10
        while not (events := _releases(runtime)) and time.monotonic() < deadline:
            time.sleep(0.05)
        [event] = events
        assert event.card_serial == SERIAL and runtime.registry().get(SERIAL) is None


@pytest.mark.parametrize("field", ["reservation_ttl_minutes", "reservation_sweep_seconds"])
def test_a_non_positive_ttl_or_interval_is_refused(home, field):
    with pytest.raises(pydantic.ValidationError, match=field):
        make_settings(home, **{field: 0})


def test_the_cli_reads_the_ttl_from_the_environment(home, monkeypatch):
    monkeypatch.setenv("CARDSERVICE_RESERVATION_TTL_MINUTES", "2.5")
    assert Service.open(home).engine.reservation_ttl == timedelta(minutes=2.5)
    monkeypatch.setenv("CARDSERVICE_RESERVATION_TTL_MINUTES", "-1")
    with pytest.raises(errors.ValidationError, match="CARDSERVICE_RESERVATION_TTL_MINUTES"):
        Service.open(home)
    monkeypatch.delenv("CARDSERVICE_RESERVATION_TTL_MINUTES")
    assert Service.open(home).engine.reservation_ttl == timedelta(minutes=10)
