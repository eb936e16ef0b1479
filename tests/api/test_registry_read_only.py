"""Over the API, a registry that takes no writes (a primary fenced read-only during a failover)
answers a write 503 REGISTRY_UNAVAILABLE, retriable, with the card untouched; a read still
answers 200 and /v1/health says degraded (docs/deployment.md). Before, psycopg's
ReadOnlySqlTransaction (an InternalError) came out as 500 INTERNAL_ERROR."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardservice.api import create_app
from cardservice.engine.service import Service
from cardservice.store.stores import Stores
from tests.clock import Clock
from tests.pg import read_only

from .conftest import BASE_URL, NOW, READER_A, SERIAL_A, Daemon, make_settings
from .simbackend import SimulatedBackend

MOVE = {"current_residence": "示范县新区2号", "card_serial": SERIAL_A}


@pytest.fixture
def county_daemon(home: Path, backend: SimulatedBackend,
                  pg_cluster) -> Iterator[tuple[Daemon, str]]:
    """The API daemon with its stores in a PostgreSQL database of its own (site ``site-a``),
    and that database's URL."""
    url = pg_cluster.new_database("api_ro")
    stores = Stores(home, database_url=url, site_id="site-a")
    stores.upgrade()
    clock = Clock()
    app = create_app(make_settings(home), service=Service.open(home, clock=clock, stores=stores),
                     backend=backend, clock=clock)
    runtime = app.state.runtime
    tokens = {"operator": runtime.tokens.create("app-operator", "operator", NOW)[0]}
    with TestClient(app, base_url=BASE_URL) as client:
        yield Daemon(client, backend, runtime, tokens, clock), url
    stores.close()


def test_a_write_is_503_retriable_and_the_card_untouched(county_daemon, pg_cluster):
    daemon, url = county_daemon
    assert daemon.issue().status_code == 200
    card = daemon.backend.slots[READER_A]
    read_only(pg_cluster, url)
    before, updates = card.image.to_json()["files"], card.update_count
    key = {"Idempotency-Key": "move-1"}

    r = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=daemon.auth(**key))
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "REGISTRY_UNAVAILABLE" and error["retriable"] is True
    assert "read-only" in error["message"]
    assert card.image.to_json()["files"] == before and card.update_count == updates

    seen = daemon.client.get(daemon.url(), headers=daemon.auth())  # reads go on
    assert seen.status_code == 200, seen.text
    assert seen.json()["verification"]["status"] == "valid"
    assert seen.json()["residence"]["sequence"] == 1
    health = daemon.client.get("/v1/health").json()
    assert health["status"] == "degraded"
    assert health["database"] == {**health["database"], "available": False,
                                  "message": "REGISTRY_UNAVAILABLE"}

    read_only(pg_cluster, url, on=False)  # the new primary: the desk app retries
    r = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=daemon.auth(**key))
    assert r.status_code == 200, r.text
    assert r.json()["residence"]["sequence"] == 2
    assert daemon.client.get("/v1/health").json()["database"]["available"] is True
