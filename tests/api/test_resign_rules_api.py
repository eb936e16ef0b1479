"""The corrected re-sign over HTTP (expiry kept, ``extend``, ``evidence``), a renewal to
long-term and a direct long-term issue needing their evidence, and
CARDSERVICE_REQUIRE_APPLICATIONS refusing a direct issue."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cardservice.api.app import create_app
from cardservice.engine.service import Service
from cardservice.transport.readers import reader_id
from tests.clock import Clock

from .conftest import BASE_URL, NOW, READER_A, SERIAL_A, Daemon, issue_body, make_settings


def test_resign_keeps_expiry_extend_and_evidence(daemon: Daemon) -> None:
    issued = daemon.issue(body=issue_body(permit_type="long_term", basis=1, evidence={
        "kind": "property_certificate", "reference": "FC-2026-1"})).json()
    expiry = issued["residence"]["expires_on"]
    url = daemon.url(action="resign")
    r = daemon.client.post(url, json={"current_residence": "示范县新城街道和平路12号",
                                      "card_serial": SERIAL_A}, headers=daemon.auth())
    assert r.status_code == 422 and r.json()["error"]["rule"] == "basis_evidence_required"
    body = {"current_residence": "示范县新城街道和平路12号", "card_serial": SERIAL_A,
            "evidence": {"kind": "lease_contract", "reference": "HT-2026-0042"}}
    r = daemon.client.post(url, json=body, headers=daemon.auth())
    assert r.status_code == 200, r.text
    assert r.json()["residence"]["expires_on"] == expiry
    r = daemon.client.post(url, json={**body, "expires_on": "2029-01-01"}, headers=daemon.auth())
    assert r.json()["error"]["rule"] == "resign_keeps_expiry"
    daemon.clock.advance(days=10)
    r = daemon.client.post(url, json={**body, "extend": True}, headers=daemon.auth())
    assert r.status_code == 200 and r.json()["residence"]["expires_on"] > expiry


def test_renew_to_long_term_needs_evidence_kept_in_the_audit(daemon: Daemon) -> None:
    daemon.issue()  # temporary
    url = daemon.url(action="renew")
    body = {"permit_type": "long_term", "basis": 3, "card_serial": SERIAL_A}
    r = daemon.client.post(url, json=body, headers=daemon.auth())
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["rule"]) == ("POLICY_VIOLATION", "basis_evidence_required")
    licence = {"kind": "business_licence", "reference": "91650000MA0000000X"}
    r = daemon.client.post(url, json={**body, "evidence": licence}, headers=daemon.auth())
    assert r.status_code == 200, r.text
    assert (r.json()["residence"]["permit_type"], r.json()["residence"]["basis"]) == (
        "long_term", 3)
    rows = daemon.client.get("/v1/audit", headers=daemon.auth("admin")).json()
    intent = next(e for e in rows if e["kind"] == "intent" and e["operation"] == "renew"
                  and e["outcome"] is None)
    assert intent["detail"]["evidence"] == licence


def test_direct_long_term_issue_needs_evidence_kept_in_the_audit(daemon: Daemon) -> None:
    body = issue_body(permit_type="long_term", basis=3)
    r = daemon.issue(body=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["rule"]) == ("POLICY_VIOLATION", "basis_evidence_required")
    assert daemon.client.get(daemon.url(), headers=daemon.auth()).json()["state"] == "blank"
    wrong = {"kind": "lease_contract", "reference": "HT-1"}  # proves basis 1, not 3
    r = daemon.issue(body={**body, "evidence": wrong})
    assert r.json()["error"]["rule"] == "basis_evidence_required"
    licence = {"kind": "business_licence", "reference": "91650000MA0000000X"}
    r = daemon.issue(body={**body, "evidence": licence})
    assert r.status_code == 200, r.text
    assert r.json()["residence"]["basis"] == 3
    rows = daemon.client.get("/v1/audit", headers=daemon.auth("admin")).json()
    intent = next(e for e in rows if e["kind"] == "intent" and e["operation"] == "issue")
    assert intent["detail"]["evidence"] == licence


def test_direct_issue_refused_when_applications_are_required(home, backend) -> None:
    clock = Clock()
    settings = make_settings(home, require_applications=True)
    assert settings.applications_required
    assert not make_settings(home).applications_required
    service = Service.open(home, clock=clock, require_applications=settings.applications_required)
    app = create_app(settings, service=service, backend=backend, clock=clock)
    token = app.state.runtime.tokens.create("op", "operator", NOW)[0]
    with TestClient(app, base_url=BASE_URL) as client:
        auth = {"Authorization": f"Bearer {token}"}
        url = f"/v1/readers/{reader_id(READER_A)}/card"
        r = client.post(f"{url}/issue", json=issue_body(), headers=auth)
        assert r.status_code == 422
        assert r.json()["error"]["rule"] == "application_required"
        assert client.get(url, headers=auth).json()["state"] == "blank"  # nothing written
