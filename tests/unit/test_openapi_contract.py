"""The committed contract: docs/openapi.json is what the app serves, and every error code of the
table appears in its error responses."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cardservice.api.contract import breaking_changes
from cardservice.api.errors import STATUS_BY_CODE
from cardservice.api.openapi import current_schema, dumps

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def schema() -> dict:
    return current_schema()


def test_committed_file_is_the_apps_schema(schema):
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == schema, "docs/openapi.json differs from the app: run `make openapi`"
    assert COMMITTED.read_text(encoding="utf-8") == dumps(schema)


def test_every_error_code_is_in_the_error_responses(schema):
    seen: set[str] = set()
    for item in schema["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    codes = response["x-error-codes"]
                    assert all(STATUS_BY_CODE[c] == int(status) for c in codes)
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"}
                    seen.update(codes)
    assert seen == set(STATUS_BY_CODE)
    assert schema["components"]["schemas"]["ErrorCode"]["enum"] == sorted(STATUS_BY_CODE)


def test_writes_document_415_and_every_operation_500(schema):
    for item in schema["paths"].values():
        for method, operation in item.items():
            assert "500" in operation["responses"]
            assert ("415" in operation["responses"]) == (method == "post")


# --- the breaking-change detector, on edits of the current document -------------------------


def _edited(schema: dict, edit) -> list[str]:
    changed = copy.deepcopy(schema)
    edit(changed)
    return breaking_changes(schema, changed)


def _schemas(doc: dict) -> dict:
    return doc["components"]["schemas"]


def test_same_document_has_no_breaking_change(schema):
    assert breaking_changes(schema, schema) == []


def test_removed_path_is_breaking(schema):
    out = _edited(schema, lambda d: d["paths"].pop("/v1/audit"))
    assert out == ["GET /v1/audit: removed"]


def test_moved_to_v2_is_not_compared(schema):
    def move(d):
        d["paths"]["/v2/audit"] = d["paths"].pop("/v1/audit")

    assert breaking_changes(schema, copy.deepcopy(schema), prefix="/v2/") == []
    assert _edited(schema, move) == ["GET /v1/audit: removed"]
    released_v2 = copy.deepcopy(schema)
    move(released_v2)
    assert breaking_changes(released_v2, released_v2, prefix="/v2/") == []


def test_removed_response_field_is_breaking(schema):
    out = _edited(schema, lambda d: _schemas(d)["Reader"]["properties"].pop("atr_hex"))
    assert "GET /v1/readers 200[].atr_hex: removed" in out


def test_retyped_response_field_is_breaking(schema):
    def retype(d):
        _schemas(d)["Health"]["properties"]["reader_count"] = {"type": "string"}

    assert _edited(schema, retype) == [
        "GET /v1/health 200.reader_count: retyped from ['integer'] to ['string']"]


def test_response_field_made_nullable_is_breaking(schema):
    def nullable(d):
        _schemas(d)["Health"]["properties"]["version"] = {
            "anyOf": [{"type": "string"}, {"type": "null"}]}

    assert _edited(schema, nullable) == [
        "GET /v1/health 200.version: retyped from ['string'] to ['null', 'string']"]


def test_new_required_request_field_is_breaking(schema):
    out = _edited(schema, lambda d: _schemas(d)["RenewIn"].setdefault("required", []).append(
        "expires_on"))
    assert out == ["POST /v1/readers/{rid}/card/renew body.expires_on: new required field"]


def test_removed_request_field_is_breaking_when_extras_are_refused(schema):
    out = _edited(schema, lambda d: _schemas(d)["RevokeIn"]["properties"].pop("reason"))
    assert "POST /v1/cards/{serial}/revoke body.reason: removed (unknown fields are refused)" in out


def test_new_required_query_parameter_is_breaking(schema):
    def require_limit(d):
        for param in d["paths"]["/v1/audit"]["get"]["parameters"]:
            if param["name"] == "limit":
                param["required"] = True

    assert _edited(schema, require_limit) == [
        "GET /v1/audit query parameter 'limit': new required parameter"]


def test_additions_are_not_breaking(schema):
    def add(d):
        _schemas(d)["Health"]["properties"]["uptime_s"] = {"type": "number"}
        _schemas(d)["RenewIn"]["properties"]["note"] = {"type": "string"}
        d["paths"]["/v1/new"] = {"get": {"responses": {"200": {"description": "ok"}}}}

    assert _edited(schema, add) == []
