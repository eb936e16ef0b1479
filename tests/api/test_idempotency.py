"""Idempotency-Key on writes: a repeat returns the first response and writes nothing."""

from __future__ import annotations

from .conftest import READER_A, SERIAL_A, issue_body


def _resign(daemon, key: str, residence: str = "示范县新区2号"):
    return daemon.client.post(daemon.url(action="resign"), json={"current_residence": residence,
                                                              "card_serial": SERIAL_A},
                              headers=daemon.auth(**{"Idempotency-Key": key}))


def test_repeated_key_replays_and_does_not_write(daemon):
    daemon.issue()
    first = _resign(daemon, "move-1")
    assert first.status_code == 200, first.text
    updates = daemon.backend.slots[READER_A].update_count
    again = _resign(daemon, "move-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert daemon.backend.slots[READER_A].update_count == updates
    card = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    assert card["residence"]["sequence"] == 2


def test_same_key_other_body_is_422(daemon):
    daemon.issue()
    assert _resign(daemon, "move-1").status_code == 200
    r = _resign(daemon, "move-1", residence="别处")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_new_key_writes_again(daemon):
    daemon.issue()
    assert _resign(daemon, "move-1").json()["residence"]["sequence"] == 2
    assert _resign(daemon, "move-2").json()["residence"]["sequence"] == 3


def test_failed_request_is_not_stored(daemon):
    r = _resign(daemon, "k")  # blank card: NOT_PERSONALIZED, nothing written
    assert r.status_code == 409
    daemon.issue()
    r = _resign(daemon, "k")
    assert r.status_code == 200
    assert r.json()["residence"]["sequence"] == 2


def test_issue_replay_keeps_one_registry_row(daemon):
    key = {"Idempotency-Key": "issue-1"}
    first = daemon.client.post(daemon.url(action="issue"), json=issue_body(),
                               headers=daemon.auth(**key))
    second = daemon.client.post(daemon.url(action="issue"), json=issue_body(),
                                headers=daemon.auth(**key))
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    rows = daemon.client.get("/v1/cards", params={"citizen_number": "11010519491231002X"},
                             headers=daemon.auth("reader")).json()
    assert [r["card_serial"] for r in rows] == [SERIAL_A]


def test_revoke_replay(daemon):
    daemon.issue()
    headers = daemon.auth("admin", **{"Idempotency-Key": "rv"})
    first = daemon.client.post(f"/v1/cards/{SERIAL_A}/revoke", json={"reason": "lost"},
                               headers=headers)
    second = daemon.client.post(f"/v1/cards/{SERIAL_A}/revoke", json={"reason": "lost"},
                                headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "lost"
    assert second.json() == first.json()
    audit = daemon.client.get("/v1/audit", params={"card_serial": SERIAL_A},
                              headers=daemon.auth("admin")).json()
    assert [e["operation"] for e in audit].count("revoke") == 1


def test_bad_key_is_validation_error(daemon):
    r = _resign(daemon, "x" * 300)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "Idempotency-Key"


def test_same_body_spelled_differently_replays(daemon):
    daemon.issue()
    assert _resign(daemon, "move-1").status_code == 200
    spelled = '{ "card_serial" : "' + SERIAL_A + '",\n  "current_residence": "示范县新区2号" }'
    r = daemon.client.post(daemon.url(action="resign"), content=spelled.encode(),
                           headers=daemon.auth(**{"Idempotency-Key": "move-1",
                                                  "Content-Type": "application/json"}))
    assert r.status_code == 200, r.text
    assert r.headers["idempotent-replayed"] == "true"
