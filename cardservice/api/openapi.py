"""The published contract: the app's OpenAPI document, annotated with the error codes each error
status can carry, written deterministically by ``python -m cardservice.api.openapi`` (``make
openapi`` keeps ``docs/openapi.json`` equal to the app; a test holds them equal)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cardservice.api.errors import STATUS_BY_CODE

ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}
#: Errors any operation can answer: a wrong method on its path, an unexpected failure.
ANY_OPERATION = {405: "wrong HTTP method for this path", 500: "unexpected; see the daemon log"}
#: Errors of any operation with a request body.
WITH_BODY = {400: "the body is not well-formed JSON",
             413: "the body is over the route's size cap",
             415: "the body is not application/json",
             422: "validation (names the field) or policy (names the rule)"}
BODY_METHODS = ("post", "put", "patch")


def codes_by_status() -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for code, status in sorted(STATUS_BY_CODE.items()):
        out.setdefault(status, []).append(code)
    return out


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": ERROR_BODY_REF}}}


def annotate(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error code table to ``schema`` (in place): an ``ErrorCode`` enum in the components,
    the error statuses every operation can answer, and on each error response ``x-error-codes``,
    the codes that come with its status."""
    by_status = codes_by_status()
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorCode"] = {
        "title": "ErrorCode", "type": "string", "enum": sorted(STATUS_BY_CODE),
        "description": "The stable error codes (error.code); the HTTP status follows the code.",
    }
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            extra = {**ANY_OPERATION, **(WITH_BODY if method in BODY_METHODS else {})}
            for status, description in extra.items():
                responses.setdefault(str(status), _error_response(description))
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    # FastAPI documents its own 422 body; the daemon answers ErrorBody for all
                    response.setdefault("content", {})["application/json"] = {
                        "schema": ERROR_BODY_REF}
                    response["x-error-codes"] = by_status.get(int(status), [])
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Serve the annotated document at /openapi.json (the same one ``make openapi`` writes)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = annotate(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def dumps(schema: dict[str, Any]) -> str:
    """The committed form: sorted keys, two-space indent, UTF-8, one final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current_schema() -> dict[str, Any]:
    """The document of an app built over a throw-away data directory (no keys, no PC/SC)."""
    from cardservice.api import create_app
    from cardservice.config import Settings

    with tempfile.TemporaryDirectory(prefix="cardservice-openapi-") as home:
        app = create_app(Settings(home=Path(home)))
        return app.openapi()


def main() -> None:
    sys.stdout.write(dumps(current_schema()))


if __name__ == "__main__":
    main()
