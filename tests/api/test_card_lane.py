"""The read's fast lane (cardservice/api/cardlane.py) answers exactly as the FastAPI route does:
the same bodies, statuses and headers for a card (with and without its photo), a missing or revoked token and an unknown
reader; every other form of the request still reaches the route; CORS still applies."""

from __future__ import annotations

import asyncio
import base64

import pytest
from fastapi.testclient import TestClient

from card_layout.jpeg_sample import flat_jpeg
from cardservice.api import create_app
from cardservice.api.cardlane import CardReadLane
from cardservice.engine.service import Service
from cardservice.store.tokens import TokenStore
from cardservice.transport.readers import reader_id
from tests.clock import Clock

from .conftest import ALICE, BASE_URL, NOW, READER_A, issue_body, make_settings

#: Query strings the lane answers, each with one the route answers that means the same.
SAME_MEANING = [("", "?photo=no"), ("?photo=true", "?photo=yes"), ("?photo=1", "?photo=on"),
                ("?photo=false", "?photo=off")]


def _same(lane, route) -> None:
    assert lane.status_code == route.status_code
    assert lane.json() == route.json()
    for header in ("content-type", "www-authenticate"):
        assert lane.headers.get(header) == route.headers.get(header)


@pytest.mark.parametrize(("lane_query", "route_query"), SAME_MEANING)
def test_card_read_answers_as_the_route_does(daemon, lane_query, route_query):
    photo = base64.b64encode(flat_jpeg(102, 126, 77)).decode()
    assert daemon.issue(body=issue_body({**ALICE, "photo": photo})).status_code == 200
    lane = daemon.client.get(daemon.url() + lane_query, headers=daemon.auth("reader"))
    route = daemon.client.get(daemon.url() + route_query, headers=daemon.auth("reader"))
    assert lane.status_code == 200, lane.text
    assert lane.json()["verification"]["status"] == "valid"
    with_photo = lane_query in ("?photo=true", "?photo=1")
    assert lane.json()["identity"]["photo"] == (photo if with_photo else None)
    _same(lane, route)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer cs_" + "x" * 43},
                                     {"Authorization": "Basic abc"}])
def test_refused_token_answers_as_the_route_does(daemon, headers):
    lane = daemon.client.get(daemon.url(), headers=headers)
    route = daemon.client.get(daemon.url() + "?photo=no", headers=headers)
    assert lane.status_code == 401 and lane.json()["error"]["code"] == "UNAUTHENTICATED"
    assert lane.headers["www-authenticate"] == "Bearer"
    _same(lane, route)


def test_revoked_token_is_refused_at_once(daemon):
    assert daemon.client.get(daemon.url(), headers=daemon.auth("reader")).status_code == 200
    daemon.runtime.tokens.revoke("app-reader", NOW)
    r = daemon.client.get(daemon.url(), headers=daemon.auth("reader"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_token_revoked_by_the_cli_is_refused_at_the_next_request(daemon):
    """The daemon reuses a token's row only while nobody wrote the tokens file: a revocation
    through another connection (the CLI) applies to the next request."""
    assert daemon.client.get(daemon.url(), headers=daemon.auth("reader")).status_code == 200
    assert daemon.client.get(daemon.url(), headers=daemon.auth("reader")).status_code == 200
    cli = TokenStore(daemon.runtime.tokens.database.path)
    cli.revoke("app-reader", NOW)
    cli.close()
    r = daemon.client.get(daemon.url(), headers=daemon.auth("reader"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_unknown_reader_answers_as_the_route_does(daemon):
    url = daemon.url("No Such Reader")
    lane = daemon.client.get(url, headers=daemon.auth("reader"))
    route = daemon.client.get(url + "?photo=no", headers=daemon.auth("reader"))
    assert lane.status_code == 404 and lane.json()["error"]["code"] == "READER_NOT_FOUND"
    _same(lane, route)


def test_other_forms_reach_the_route(daemon):
    bad = daemon.client.get(daemon.url() + "?photo=maybe", headers=daemon.auth("reader"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert bad.json()["error"]["field"] == "photo"
    head = daemon.client.head(daemon.url(), headers=daemon.auth("reader"))
    assert head.status_code == 405  # the route's own answer: it serves GET only
    post = daemon.client.post(daemon.url(), json={}, headers=daemon.auth("reader"))
    assert post.status_code == 405


async def _call(app, method: str, path: str, query: bytes) -> bool:
    """True if the lane passed the request on to ``app`` (the FastAPI application)."""
    reached = []

    async def inner(scope, receive, send):
        reached.append(scope["path"])

    lane = CardReadLane(inner, runtime=app.state.runtime)
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": []}

    async def send(_message):
        return None

    await lane(scope, None, send)
    return bool(reached)


@pytest.mark.parametrize(("method", "path", "query", "passed_on"), [
    ("GET", "/v1/readers/r-1/card", b"", False),
    ("GET", "/v1/readers/r-1/card", b"photo=true", False),
    ("GET", "/v1/readers/r-1/card", b"photo=yes", True),
    ("GET", "/v1/readers/r-1/card", b"photo=true&photo=false", True),
    ("GET", "/v1/readers/r-1/card/", b"", True),
    ("GET", "/v1/readers//card", b"", True),
    ("GET", "/v1/readers/r-1/card/issue", b"", True),
    ("HEAD", "/v1/readers/r-1/card", b"", True),
    ("POST", "/v1/readers/r-1/card", b"", True),
])
def test_which_requests_take_the_lane(daemon, method, path, query, passed_on):
    assert asyncio.run(_call(daemon.client.app, method, path, query)) is passed_on


def test_cors_applies_to_the_lane(home, backend):
    settings = make_settings(home, allowed_origins=["https://desk.example"], cors=True)
    app = create_app(settings, service=Service.open(home), backend=backend, clock=Clock())
    token = app.state.runtime.tokens.create("desk", "reader", NOW)[0]
    with TestClient(app, base_url=BASE_URL) as client:
        r = client.get(f"/v1/readers/{reader_id(READER_A)}/card",
                       headers={"Origin": "https://desk.example",
                                "Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://desk.example"
