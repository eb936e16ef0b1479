"""Console log-in: the session cookie, wrong passwords, the lockout and its end, idle timeout,
logout, the CSRF token of every form, cross-site posts, and the session on /v1/events."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from .conftest import BASE_URL, PASSWORD, csrf_of, form_post, login


def test_login_sets_a_strict_httponly_session_cookie(clerks):
    client = TestClient(clerks.client.app, base_url=BASE_URL)
    response = login(client, "operator-clerk")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/readers"
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("cs_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = client.get("/console/readers")
    assert page.status_code == 200 and "operator-clerk" in page.text
    assert "cs_" not in page.text.split("csrf")[0]  # no token or secret in the page
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_wrong_password_then_lockout_that_expires(clerks):
    client = TestClient(clerks.client.app, base_url=BASE_URL)
    failed = login(client, "operator-clerk", "wrong password!")
    assert failed.status_code == 401 and "用户名或密码错误" in failed.text
    for _ in range(3):
        assert login(client, "operator-clerk", "wrong password!").status_code == 401
    locked = login(client, "operator-clerk", "wrong password!")
    assert locked.status_code == 429 and "锁定" in locked.text
    assert login(client, "operator-clerk").status_code == 429  # the right password too
    clerks.clock.advance(minutes=16)
    assert login(client, "operator-clerk").status_code == 303


def test_unknown_clerk_is_the_same_failure(clerks):
    client = TestClient(clerks.client.app, base_url=BASE_URL)
    assert login(client, "nobody", PASSWORD).status_code == 401


def test_pages_need_a_session(clerks):
    client = TestClient(clerks.client.app, base_url=BASE_URL)
    response = client.get("/console/readers", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/readers"


def test_idle_timeout_ends_the_session(as_clerk, clerks):
    client = as_clerk("operator")
    assert client.get("/console/readers").status_code == 200
    clerks.clock.advance(minutes=14)
    assert client.get("/console/readers").status_code == 200  # use keeps it alive
    clerks.clock.advance(minutes=16)
    assert client.get("/console/readers", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(as_clerk):
    client = as_clerk("operator")
    page = client.get("/console/readers")
    cookie = client.cookies.get("cs_session")
    refused = form_post(client, "/console/logout", {"x": "1"})
    assert refused.status_code == 403, refused.text  # no CSRF token
    response = form_post(client, "/console/logout", {"csrf": csrf_of(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    client.cookies.set("cs_session", cookie)  # the old cookie is worth nothing now
    assert client.get("/console/readers", follow_redirects=False).status_code == 303


def test_login_form_needs_its_csrf_token(clerks):
    client = TestClient(clerks.client.app, base_url=BASE_URL)
    client.get("/console/login")
    response = form_post(client, "/console/login",
                         {"name": "operator-clerk", "password": PASSWORD})
    assert response.status_code == 403 and "CSRF_FAILED" in response.text


def test_cross_site_form_post_is_refused(as_clerk):
    client = as_clerk("operator")
    csrf = csrf_of(client.get("/console/readers").text)
    response = form_post(client, "/console/logout", {"csrf": csrf},
                         Origin="http://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    same = form_post(client, "/console/logout", {"csrf": csrf}, Origin=BASE_URL)
    assert same.status_code == 303


def test_form_bodies_stay_refused_on_the_api(clerks):
    response = clerks.client.post("/v1/cards/0102030405060708/revoke",
                                  data={"reason": "lost"}, headers=clerks.auth("admin"))
    assert response.status_code == 415


def test_events_take_the_session_cookie(as_clerk, clerks):
    client = as_clerk("reader")
    with client.websocket_connect("ws://127.0.0.1:8765/v1/events") as ws:
        assert ws.receive_json()["type"] == "hello"
    anonymous = TestClient(clerks.client.app, base_url=BASE_URL)
    with pytest.raises(WebSocketDenialResponse), anonymous.websocket_connect("ws://127.0.0.1:8765/v1/events") as ws:
        ws.receive_json()


def test_language_switch(as_clerk):
    client = as_clerk("operator")
    assert "读卡器" in client.get("/console/readers").text
    client.get("/console/lang/en?next=/console/readers")
    assert "Readers" in client.get("/console/readers").text
    evil = client.get("/console/lang/en?next=//evil.example/", follow_redirects=False)
    assert evil.headers["location"] == "/console/readers"
