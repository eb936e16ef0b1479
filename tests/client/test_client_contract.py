"""The client package on its own: no server code imported, its models equal to the API schema,
every error code in a family, the missed-event bookkeeping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cardservice.api.contract import _Doc
from cardservice.client import errors
from cardservice.client._core import SeqTracker
from cardservice.client.models import MIRRORS

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))


def test_importing_the_client_loads_no_server_code():
    code = ("import sys, cardservice.client; "
            "print([m for m in sys.modules if m.startswith(('cardservice.', 'card_layout', "
            "'simulator', 'fastapi', 'uvicorn', 'smartcard')) "
            "and not m.startswith('cardservice.client')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_client_model_equals_the_api_schema(name):
    api = OPENAPI["components"]["schemas"][name]
    mine_doc = MIRRORS[name].model_json_schema(ref_template="#/$defs/{model}")
    mine = _Doc(mine_doc)
    theirs = _Doc(OPENAPI)
    assert set(mine_doc["properties"]) == set(api["properties"])
    assert set(mine_doc.get("required", [])) == set(api.get("required", []))
    for field, schema in api["properties"].items():
        assert mine.kinds(mine_doc["properties"][field]) == theirs.kinds(schema), field


def test_every_error_code_has_a_family():
    table = set(OPENAPI["components"]["schemas"]["ErrorCode"]["enum"])
    assert set(errors.BY_CODE) <= table, "the client names codes the daemon no longer has"
    statuses = {code: int(status) for item in OPENAPI["paths"].values()
                for op in item.values() for status, resp in op["responses"].items()
                for code in resp.get("x-error-codes", [])}
    for code in table:
        family = errors.family_for(code, statuses[code])
        assert family is not errors.CardServiceError
        exc = errors.from_response(statuses[code], {"error": {
            "code": code, "message": "m", "retriable": True, "field": "f", "rule": "r"}})
        assert isinstance(exc, family) and (exc.code, exc.retriable, exc.field, exc.rule) == (
            code, True, "f", "r")


def test_a_body_without_error_is_a_server_error():
    exc = errors.from_response(502, "<html>bad gateway</html>")
    assert isinstance(exc, errors.ServerError) and exc.retriable


def test_seq_tracker_reports_gaps_reconnects_and_restarts():
    t = SeqTracker()
    assert t.see({"type": "hello", "stream": "a", "seq": 4}) is None
    assert t.see({"type": "card_inserted", "seq": 5}) is None
    assert t.see({"type": "card_removed", "seq": 8}).model_dump() == {"count": 2, "reason": "gap"}
    assert t.see({"type": "hello", "stream": "a", "seq": 8}) is None
    assert t.see({"type": "hello", "stream": "a", "seq": 11}).model_dump() == {
        "count": 3, "reason": "reconnected"}
    assert t.see({"type": "hello", "stream": "b", "seq": 1}).model_dump() == {
        "count": None, "reason": "restarted"}
    assert t.see({"type": "card_inserted", "seq": 2}) is None
