"""Every message the daemon sends on /v1/events is valid under docs/events.schema.json, and the
seq numbers let a client see what it missed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from .conftest import READER_A
from .simbackend import make_card

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "events.schema.json")
                    .read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _until(ws, type_: str, got: list[dict], limit: int = 20) -> dict:
    for _ in range(limit):
        event = ws.receive_json()
        got.append(event)
        if event["type"] == type_:
            return event
    raise AssertionError(f"no {type_} event")


def test_the_schema_itself_is_valid():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_event_type_the_daemon_sends_is_valid(daemon):
    got: list[dict] = []
    backend = daemon.backend
    headers = {"Host": "127.0.0.1:8765", **daemon.auth("reader")}
    with daemon.client.websocket_connect("/v1/events", headers=headers) as ws:
        got.append(ws.receive_json())
        backend.pull(READER_A)
        _until(ws, "card_removed", got)
        backend.insert(READER_A)
        _until(ws, "card_inserted", got)
        backend.add_reader("Sim Reader C", None)
        _until(ws, "reader_added", got)
        backend.remove_reader("Sim Reader C")
        _until(ws, "reader_removed", got)
        assert daemon.issue().status_code == 200
        _until(ws, "write_finished", got)
        daemon.client.post(daemon.url(action="issue"), json={"identity": {}, "residence": {}},
                           headers=daemon.auth())
        assert daemon.issue().status_code == 409
        _until(ws, "write_finished", got)
        backend.set_available(False)
        _until(ws, "pcsc_unavailable", got)
        backend.set_available(True)
        _until(ws, "pcsc_available", got)
    types = {e["type"] for e in got}
    assert types == {"hello", "card_removed", "card_inserted", "reader_added", "reader_removed",
                     "write_started", "write_finished", "pcsc_unavailable", "pcsc_available"}
    for event in got:
        errors = [e.message for e in VALIDATOR.iter_errors(event)]
        assert errors == [], (event, errors)
    seqs = [e["seq"] for e in got[1:]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "no gap on a live connection"
    assert seqs[0] == got[0]["seq"] + 1


@pytest.mark.parametrize("bad", [
    {"type": "card_inserted", "reader_id": "x", "reader": "X", "ts": "2026-01-01T00:00:00Z",
     "seq": 1},  # no atr_hex
    {"type": "write_finished", "reader_id": "x", "operation": "issue", "ok": False,
     "ts": "2026-01-01T00:00:00Z", "seq": 2},  # a failure without its code
    {"type": "teleported", "ts": "2026-01-01T00:00:00Z", "seq": 3},
])
def test_the_schema_refuses_malformed_events(bad):
    assert not VALIDATOR.is_valid(bad)


def test_a_new_connection_says_where_the_stream_is(daemon):
    headers = {"Host": "127.0.0.1:8765", **daemon.auth("reader")}
    with daemon.client.websocket_connect("/v1/events", headers=headers) as ws:
        first = ws.receive_json()
        daemon.backend.add_reader("Sim Reader D", make_card("3132333435363738"))
        last = _until(ws, "card_inserted", [])
    # a client that reconnects now sees in the hello that it missed nothing (seq == last seen)
    with daemon.client.websocket_connect("/v1/events", headers=headers) as ws:
        again = ws.receive_json()
    assert again["type"] == "hello" and again["stream"] == first["stream"]
    assert again["seq"] == last["seq"] > first["seq"]
