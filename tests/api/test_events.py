"""The event stream: authenticated WebSocket, hello snapshot, reader and card events, write
events, PC/SC loss and recovery, and reconciliation of a pending intent when a card comes back."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import WebSocketDenialResponse

from cardservice.transport.readers import reader_id

from .conftest import READER_A, READER_B, SERIAL_A
from .simbackend import make_card


def _next(ws, type_: str, limit: int = 20) -> dict:
    for _ in range(limit):
        event = ws.receive_json()
        if event["type"] == type_:
            return event
    raise AssertionError(f"no {type_} event")


def _connect(daemon, headers: dict | None = None, **kw):
    headers = {"Host": "127.0.0.1:8765", **(headers or {})}
    return daemon.client.websocket_connect("/v1/events", headers=headers, **kw)


def test_hello_lists_readers(daemon):
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        hello = ws.receive_json()
    assert hello["type"] == "hello" and hello["pcsc_available"] is True
    assert {r["reader"] for r in hello["readers"]} == {READER_A, READER_B}
    assert all(r["card_present"] for r in hello["readers"])


def test_token_in_query(daemon):
    with _connect(daemon, params={"token": daemon.tokens["reader"]}) as ws:
        assert ws.receive_json()["type"] == "hello"


@pytest.mark.parametrize("params", [{}, {"token": "cs_nope"}])
def test_no_or_wrong_token_is_refused(daemon, params):
    with pytest.raises(WebSocketDenialResponse) as info, _connect(daemon, params=params):
        pass
    assert info.value.status_code == 401


def test_foreign_origin_is_refused(daemon):
    headers = daemon.auth("reader", Origin="https://evil.example")
    with pytest.raises(WebSocketDenialResponse) as info, _connect(daemon, headers=headers):
        pass
    assert info.value.status_code == 403
    assert info.value.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"


def test_foreign_host_is_refused(daemon):
    headers = daemon.auth("reader", Host="evil.example:8765")
    with pytest.raises(WebSocketDenialResponse) as info, _connect(daemon, headers=headers):
        pass
    assert info.value.status_code == 403


def test_card_removed_and_inserted(daemon):
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        ws.receive_json()
        daemon.backend.pull(READER_A)
        removed = _next(ws, "card_removed")
        daemon.backend.insert(READER_A)
        inserted = _next(ws, "card_inserted")
    assert removed["reader_id"] == reader_id(READER_A) and removed["reader"] == READER_A
    assert inserted["reader_id"] == reader_id(READER_A)
    assert inserted["atr_hex"] == daemon.backend.slots[READER_A].atr.hex()
    assert inserted["ts"].startswith("2026-11-28T02:00")


def test_reader_added_and_removed(daemon):
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        ws.receive_json()
        daemon.backend.add_reader("Sim Reader C", make_card("2122232425262728"))
        added = _next(ws, "reader_added")
        assert _next(ws, "card_inserted")["reader"] == "Sim Reader C"
        daemon.backend.remove_reader("Sim Reader C")
        assert _next(ws, "card_removed")["reader"] == "Sim Reader C"
        removed = _next(ws, "reader_removed")
    assert added["reader"] == removed["reader"] == "Sim Reader C"


def test_write_events(daemon):
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        ws.receive_json()
        assert daemon.issue().status_code == 200
        started = _next(ws, "write_started")
        finished = _next(ws, "write_finished")
    assert started["operation"] == "issue" and started["reader_id"] == reader_id(READER_A)
    assert finished["ok"] is True and finished["card_serial"] == SERIAL_A


def test_failed_write_event_carries_code(daemon):
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        ws.receive_json()
        daemon.client.post(daemon.url(action="resign"), json={"current_residence": "x", "card_serial": SERIAL_A},
                           headers=daemon.auth())
        finished = _next(ws, "write_finished")
    assert finished["ok"] is False and finished["code"] == "NOT_PERSONALIZED"


def test_pcsc_unavailable_then_available(daemon):
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        ws.receive_json()
        daemon.backend.set_available(False)
        down = _next(ws, "pcsc_unavailable")
        daemon.backend.set_available(True)
        _next(ws, "pcsc_available")
    assert down["code"] == "PCSC_UNAVAILABLE"


def test_pending_intent_reconciled_when_card_returns(daemon):
    assert daemon.issue().status_code == 200
    daemon.backend.pull_after_write.add(READER_A)  # written, then gone before the read-back
    r = daemon.client.post(daemon.url(action="resign"), json={"current_residence": "新址", "card_serial": SERIAL_A},
                           headers=daemon.auth())
    assert r.status_code == 409 and r.json()["error"]["code"] == "WRITE_NOT_CONFIRMED"
    admin = daemon.auth("admin")
    pending = daemon.client.get("/v1/audit/verify", headers=admin).json()["pending_intents"]
    assert pending == [r.json()["error"]["intent_id"]]
    with _connect(daemon, headers=daemon.auth("reader")) as ws:
        ws.receive_json()
        daemon.backend.insert(READER_A)
        _next(ws, "card_inserted")
    deadline = time.monotonic() + 3
    while daemon.client.get("/v1/audit/verify", headers=admin).json()["pending_intents"]:
        assert time.monotonic() < deadline, "the pending intent was not reconciled"
        time.sleep(0.05)
    row = daemon.client.get(f"/v1/cards/{SERIAL_A}", headers=daemon.auth("reader")).json()
    assert row["last_sequence"] == 2
    card = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    assert card["residence"]["current_residence"] == "新址"
