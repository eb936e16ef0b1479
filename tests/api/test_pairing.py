"""Pairing over the API: an app asks, an admin approves (or denies) its code, the app polls and
gets its token once; expiry, limits, loopback only, and an audit entry for every step."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cardservice.pairing.service import MAX_PENDING, MAX_PER_MINUTE

from .conftest import BASE_URL


@pytest.fixture
def app_client(daemon) -> TestClient:
    """The same daemon, reached from a loopback address (as a real app on the PC is)."""
    return TestClient(daemon.client.app, base_url=BASE_URL, client=("127.0.0.1", 50123))


def _ask(app_client, name: str = "Front desk app"):
    return app_client.post("/v1/pairing", json={"name": name})


def _poll(app_client, request_id: str) -> dict:
    r = app_client.get(f"/v1/pairing/{request_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _audit_ops(daemon) -> list[str]:
    rows = daemon.client.get("/v1/audit", headers=daemon.auth("admin")).json()
    return [e["operation"] for e in reversed(rows) if e["operation"].startswith("pairing_")]


def test_whole_flow_approve_then_token_once(daemon, app_client):
    r = _ask(app_client)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "code", "expires_at"} and len(created["code"]) == 7
    assert _poll(app_client, created["id"]) == {"status": "pending", "token": None, "role": None}
    listed = daemon.client.get("/v1/pairing", headers=daemon.auth("admin")).json()
    assert [(p["code"], p["app_name"]) for p in listed] == [(created["code"], "Front desk app")]
    r = daemon.client.post("/v1/pairing/approve", headers=daemon.auth("admin"),
                           json={"code": created["code"].lower().replace("-", ""),
                                 "role": "operator"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    first = _poll(app_client, created["id"])
    assert first["status"] == "approved" and first["role"] == "operator"
    token = first["token"]
    assert token.startswith("cs_")
    assert _poll(app_client, created["id"]) == {"status": "approved", "token": None,
                                                "role": "operator"}
    readers = app_client.get("/v1/readers", headers={"Authorization": f"Bearer {token}"})
    assert readers.status_code == 200
    assert _audit_ops(daemon) == ["pairing_requested", "pairing_approved",
                                  "pairing_token_issued"]
    assert daemon.client.get("/v1/audit/verify", headers=daemon.auth("admin")).json()["ok"]


def test_denied_request_yields_nothing(daemon, app_client):
    created = _ask(app_client).json()
    r = daemon.client.post("/v1/pairing/deny", headers=daemon.auth("admin"),
                           json={"code": created["code"]})
    assert r.status_code == 200 and r.json()["status"] == "denied"
    assert _poll(app_client, created["id"]) == {"status": "denied", "token": None, "role": None}
    again = daemon.client.post("/v1/pairing/approve", headers=daemon.auth("admin"),
                               json={"code": created["code"], "role": "reader"})
    assert again.status_code == 404 and again.json()["error"]["code"] == "NOT_FOUND"
    assert _audit_ops(daemon) == ["pairing_requested", "pairing_denied"]


def test_request_expires_after_five_minutes(daemon, app_client):
    created = _ask(app_client).json()
    daemon.clock.advance(minutes=5, seconds=1)
    assert _poll(app_client, created["id"])["status"] == "expired"
    r = daemon.client.post("/v1/pairing/approve", headers=daemon.auth("admin"),
                           json={"code": created["code"], "role": "reader"})
    assert r.status_code == 404
    assert _audit_ops(daemon) == ["pairing_requested", "pairing_expired"]


def test_approved_but_never_collected_expires(daemon, app_client):
    created = _ask(app_client).json()
    daemon.clock.advance(minutes=4)
    daemon.client.post("/v1/pairing/approve", headers=daemon.auth("admin"),
                       json={"code": created["code"], "role": "reader"})
    daemon.clock.advance(minutes=4)  # still within 5 minutes of the approval
    daemon.clock.advance(minutes=1, seconds=1)
    assert _poll(app_client, created["id"]) == {"status": "expired", "token": None, "role": None}


def test_only_an_admin_decides(daemon, app_client):
    created = _ask(app_client).json()
    body = {"code": created["code"], "role": "operator"}
    r = daemon.client.post("/v1/pairing/approve", headers=daemon.auth("operator"), json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert app_client.post("/v1/pairing/approve", json=body).status_code == 401
    assert daemon.client.get("/v1/pairing", headers=daemon.auth("reader")).status_code == 403


@pytest.mark.parametrize("role", ["admin", "certifier", "root"])
def test_only_reader_or_operator_can_be_granted(daemon, app_client, role):
    created = _ask(app_client).json()
    r = daemon.client.post("/v1/pairing/approve", headers=daemon.auth("admin"),
                           json={"code": created["code"], "role": role})
    assert r.status_code == 422 and r.json()["error"]["field"] == "role"


def test_not_from_another_machine(daemon):
    remote = TestClient(daemon.client.app, base_url=BASE_URL, client=("192.0.2.7", 40000))
    r = remote.post("/v1/pairing", json={"name": "elsewhere"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"


def test_at_most_a_few_pending(daemon, app_client):
    for i in range(MAX_PENDING):
        assert _ask(app_client, f"app {i}").status_code == 201
    r = _ask(app_client, "one too many")
    assert r.status_code == 429
    assert r.json()["error"] == {**r.json()["error"], "code": "TOO_MANY_PENDING",
                                 "retriable": True}


def test_rate_limited_per_minute(daemon, app_client):
    for i in range(MAX_PER_MINUTE):
        created = _ask(app_client, f"app {i}").json()
        daemon.client.post("/v1/pairing/deny", headers=daemon.auth("admin"),
                           json={"code": created["code"]})
    r = _ask(app_client)
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    daemon.clock.advance(minutes=1, seconds=1)
    assert _ask(app_client).status_code == 201


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 49}, {"name": "a\nb"},
                                  {"name": "ok", "role": "admin"}])
def test_bad_request_is_a_validation_error(app_client, body):
    r = app_client.post("/v1/pairing", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"


def test_unknown_id_and_bad_code(daemon, app_client):
    r = app_client.get("/v1/pairing/pr_nonexistent")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = daemon.client.post("/v1/pairing/approve", headers=daemon.auth("admin"),
                           json={"code": "0OO-111", "role": "reader"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "code"
