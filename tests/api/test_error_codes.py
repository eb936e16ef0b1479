"""Every error body carries a code from the table (issue 11, point 10): a malformed JSON body is
400 MALFORMED_REQUEST (not HTTP_ERROR with ``field: "1"``), and framework errors map too."""

from __future__ import annotations

import pytest

from cardservice.api.errors import STATUS_BY_CODE

from .conftest import SERIAL_A


@pytest.mark.parametrize("content", [b"{", b'{"current_residence": "x",}', b"\xff\xfe", b"nul"])
def test_malformed_json_has_a_code_from_the_table(daemon, content):
    daemon.issue()
    r = daemon.client.post(daemon.url(action="resign"), content=content,
                           headers=daemon.auth(**{"Content-Type": "application/json"}))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "MALFORMED_REQUEST" and "field" not in error
    assert STATUS_BY_CODE[error["code"]] == 400


def test_wrong_json_shape_still_names_the_field(daemon):
    r = daemon.client.post(daemon.url(action="resign"), json=["not", "an", "object"],
                           headers=daemon.auth())
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = daemon.client.post(daemon.url(action="resign"), json={"card_serial": SERIAL_A},
                           headers=daemon.auth())
    assert r.json()["error"]["field"] == "current_residence"


@pytest.mark.parametrize("method,path", [("DELETE", "/v1/readers"), ("GET", "/v1/nothing")])
def test_framework_errors_use_table_codes(daemon, method, path):
    r = daemon.client.request(method, path, headers=daemon.auth())
    assert r.json()["error"]["code"] in STATUS_BY_CODE
    assert STATUS_BY_CODE[r.json()["error"]["code"]] == r.status_code
