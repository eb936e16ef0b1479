"""The app itself: OpenAPI and docs, error bodies for unknown routes, CORS only when configured,
settings validation, reader ids."""

from __future__ import annotations

import pydantic
import pytest
from fastapi.testclient import TestClient

from cardservice.api import create_app
from cardservice.api.errors import STATUS_BY_CODE
from cardservice.config import Settings
from cardservice.engine.service import Service
from cardservice.transport.readers import reader_id

from .conftest import BASE_URL, Clock, make_settings


def test_openapi_and_docs(daemon):
    spec = daemon.client.get("/openapi.json").json()
    for path in ("/v1/health", "/v1/readers", "/v1/readers/{rid}/card",
                 "/v1/readers/{rid}/card/issue", "/v1/readers/{rid}/card/resign",
                 "/v1/readers/{rid}/card/renew", "/v1/cards/{serial}/revoke",
                 "/v1/cards/{serial}", "/v1/cards", "/v1/audit", "/v1/audit/verify"):
        assert path in spec["paths"], path
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = daemon.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_route_has_error_body(daemon):
    r = daemon.client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ROUTE_NOT_FOUND"


def test_every_service_error_code_has_a_status():
    from cardservice import errors
    from cardservice.store import (
        tokens,  # noqa: F401
    )

    def codes(cls):
        yield cls.code
        for sub in cls.__subclasses__():
            yield from codes(sub)

    missing = {c for c in codes(errors.CardServiceError)} - set(STATUS_BY_CODE)
    assert missing == set()


def test_allowed_origin_gets_cors(home, backend):
    settings = make_settings(home, allowed_origins=["https://desk.example"], cors=True)
    app = create_app(settings, service=Service.open(home), backend=backend, clock=Clock())
    with TestClient(app, base_url=BASE_URL) as client:
        ok = client.get("/v1/health", headers={"Origin": "https://desk.example"})
        bad = client.get("/v1/health", headers={"Origin": "https://other.example"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://desk.example"
    assert bad.status_code == 403


@pytest.mark.parametrize("values", [
    {"host": "0.0.0.0"}, {"host": "192.168.1.5"}, {"allowed_origins": ["*"]},
    {"operation_timeout": 0}, {"log_format": "xml"},
])
def test_unsafe_settings_refused(tmp_path, values):
    with pytest.raises(pydantic.ValidationError):
        Settings(home=tmp_path, **values)


def test_remote_bind_needs_the_flag(tmp_path):
    settings = Settings(home=tmp_path, host="0.0.0.0", allow_remote=True)
    assert "127.0.0.1:8765" in settings.allowed_hosts


def test_reader_ids_are_stable_url_safe_and_distinct():
    a = reader_id("Virtual PCD 00 00")
    assert a == reader_id("Virtual PCD 00 00")
    assert a != reader_id("Virtual PCD 00 01")
    assert a.startswith("virtual-pcd-00-00-")
    assert all(c.isalnum() or c == "-" for c in reader_id("读卡器 «1» / x?"))
