"""Console fixtures: the in-process daemon of tests/api with clerk accounts, and a logged-in
TestClient helper."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cardservice.console.passwords import hash_password
from tests.api.conftest import (  # noqa: F401  (fixtures shared with the API tests)
    BASE_URL,
    NOW,
    READER_A,
    Daemon,
    backend,
    daemon,
    home,
    key_template,
)

PASSWORD = "correct horse battery"
ROLES = ("reader", "operator", "certifier", "admin")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def form_post(client: TestClient, url: str, data: dict, **headers: str):
    return client.post(url, data=data, headers=headers, follow_redirects=False)


def login(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/console/login")
    return form_post(client, "/console/login",
                     {"csrf": csrf_of(page.text), "name": name, "password": password})


@pytest.fixture(scope="session")
def clerk_password_hash() -> str:
    """PASSWORD's scrypt hash, made once: each hash costs the production scrypt work."""
    return hash_password(PASSWORD)


@pytest.fixture
def clerks(daemon: Daemon, clerk_password_hash: str) -> Daemon:  # noqa: F811  (imported fixture)
    store = daemon.client.app.state.console.accounts.store
    hashed = clerk_password_hash
    for role in ROLES:
        store.add(f"{role}-clerk", role, hashed, NOW)
    return daemon


@pytest.fixture
def as_clerk(clerks: Daemon):
    """``as_clerk(role)``: a fresh TestClient logged in as that role's clerk."""
    opened: list[TestClient] = []

    def make(role: str) -> TestClient:
        client = TestClient(clerks.client.app, base_url=BASE_URL)
        opened.append(client)
        assert login(client, f"{role}-clerk").status_code == 303
        return client

    yield make
    for client in opened:
        client.close()
