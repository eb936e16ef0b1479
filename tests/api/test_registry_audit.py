"""Registry views, revocation and the audit log over HTTP."""

from __future__ import annotations

from .conftest import ALICE, SERIAL_A


def test_registry_card_and_by_citizen(daemon):
    daemon.issue()
    r = daemon.client.get(f"/v1/cards/{SERIAL_A.upper()}", headers=daemon.auth("reader"))
    assert r.status_code == 200
    assert r.json()["citizen_number"] == ALICE["citizen_number"]
    assert r.json()["status"] == "active" and r.json()["last_sequence"] == 1
    rows = daemon.client.get("/v1/cards", params={"citizen_number": ALICE["citizen_number"]},
                             headers=daemon.auth("reader")).json()
    assert [x["card_serial"] for x in rows] == [SERIAL_A]


def test_unknown_card_is_404(daemon):
    r = daemon.client.get("/v1/cards/ffffffffffffffff", headers=daemon.auth("reader"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


def test_malformed_serial_is_422(daemon):
    r = daemon.client.get("/v1/cards/xyz", headers=daemon.auth("reader"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "serial"


def test_revoke_then_resign_is_card_revoked(daemon):
    daemon.issue()
    r = daemon.client.post(f"/v1/cards/{SERIAL_A}/revoke", json={"reason": "withdrawn"},
                           headers=daemon.auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = daemon.client.post(daemon.url(action="resign"), json={"current_residence": "x", "card_serial": SERIAL_A},
                           headers=daemon.auth())
    assert r.status_code == 409 and r.json()["error"]["code"] == "CARD_REVOKED"
    card = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    assert card["verification"]["status"] == "revoked"


def test_revoke_bad_reason_and_unknown_card(daemon):
    r = daemon.client.post(f"/v1/cards/{SERIAL_A}/revoke", json={"reason": "stolen"},
                           headers=daemon.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = daemon.client.post(f"/v1/cards/{SERIAL_A}/revoke", json={"reason": "lost"},
                           headers=daemon.auth("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


def test_audit_entries_and_verify(daemon):
    daemon.issue()
    admin = daemon.auth("admin")
    entries = daemon.client.get("/v1/audit", params={"card_serial": SERIAL_A, "limit": 10},
                                headers=admin).json()
    assert [(e["kind"], e["operation"]) for e in entries][:2] == [("outcome", "issue"),
                                                                  ("intent", "issue")]
    assert entries[0]["actor"] == "app-operator"
    verify = daemon.client.get("/v1/audit/verify", headers=admin).json()
    assert verify["ok"] is True and verify["entries"] == 2 and verify["pending_intents"] == []


def test_audit_limit_is_bounded(daemon):
    r = daemon.client.get("/v1/audit", params={"limit": 0}, headers=daemon.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit"
