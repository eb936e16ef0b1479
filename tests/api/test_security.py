"""Local-only guards and tokens: foreign Host / Origin, non-JSON bodies, missing / wrong / revoked
tokens, and roles. Every refusal happens before any card I/O."""

from __future__ import annotations

import pytest

from .conftest import NOW, SERIAL_A, issue_body


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1:9999", "localhost",
                                  "attacker.127.0.0.1.nip.io:8765"])
def test_foreign_host_refused_before_card_io(daemon, host):
    r = daemon.client.get(daemon.url(), headers=daemon.auth("reader", Host=host))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "HOST_NOT_ALLOWED"
    assert daemon.backend.apdus == {}


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"])
def test_loopback_hosts_accepted(daemon, host):
    r = daemon.client.get("/v1/health", headers={"Host": host})
    assert r.status_code == 200


def test_foreign_origin_is_403_even_with_valid_token(daemon):
    r = daemon.issue(Origin="https://evil.example")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert daemon.backend.apdus == {}


@pytest.mark.parametrize("ctype,content", [
    ("text/plain", '{"current_residence": "x"}'),
    ("application/x-www-form-urlencoded", "current_residence=x"),
    ("multipart/form-data; boundary=b", "--b--"),
])
def test_simple_request_bodies_are_415(daemon, ctype, content):
    r = daemon.client.post(daemon.url(action="resign"), content=content,
                           headers=daemon.auth(**{"Content-Type": ctype}))
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert daemon.backend.apdus == {}


def test_json_with_charset_is_accepted(daemon):
    r = daemon.client.post(daemon.url(action="issue"), content=_json(issue_body()),
                           headers=daemon.auth(**{"Content-Type": "application/json; charset=utf-8"}))
    assert r.status_code == 200, r.text


def _json(obj) -> bytes:
    import json

    return json.dumps(obj).encode()


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic dXNlcjpwdw==",
                                           "Bearer cs_wrongwrongwrongwrongwrongwrongwrongwrongwro"])
def test_missing_or_wrong_token_is_401(daemon, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    r = daemon.client.get("/v1/readers", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHENTICATED"
    assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_token_is_401(daemon):
    assert daemon.client.get("/v1/readers", headers=daemon.auth("reader")).status_code == 200
    daemon.runtime.tokens.revoke("app-reader", NOW)
    r = daemon.client.get("/v1/readers", headers=daemon.auth("reader"))
    assert r.status_code == 401


def test_write_without_token_is_401_before_card_io(daemon):
    r = daemon.client.post(daemon.url(action="issue"), json=issue_body())
    assert r.status_code == 401
    assert daemon.backend.apdus == {}


@pytest.mark.parametrize("action", ["issue", "resign", "renew"])
def test_reader_role_cannot_write(daemon, action):
    r = daemon.client.post(daemon.url(action=action), json=issue_body(),
                           headers=daemon.auth("reader"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "FORBIDDEN"
    assert daemon.backend.apdus == {}


def test_operator_cannot_revoke_or_audit(daemon):
    daemon.issue()
    r = daemon.client.post(f"/v1/cards/{SERIAL_A}/revoke", json={"reason": "lost"},
                           headers=daemon.auth("operator"))
    assert r.status_code == 403
    assert daemon.client.get("/v1/audit", headers=daemon.auth("operator")).status_code == 403
    assert daemon.client.get("/v1/audit/verify",
                             headers=daemon.auth("operator")).status_code == 403
    row = daemon.client.get(f"/v1/cards/{SERIAL_A}", headers=daemon.auth("reader")).json()
    assert row["status"] == "active"


def test_admin_may_do_everything_an_operator_may(daemon):
    r = daemon.issue(role="admin")
    assert r.status_code == 200, r.text
    assert r.json()["registry"]["card_serial"] == SERIAL_A


def test_no_cors_headers_by_default(daemon):
    r = daemon.client.get("/v1/health", headers={"Origin": "https://app.example"})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


def test_health_needs_no_token(daemon):
    r = daemon.client.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["reader_count"] == 2
