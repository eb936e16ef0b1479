"""The application and production routes (TestClient; in-process cards in a feeder)."""

from __future__ import annotations

import subprocess
import time

from tests.engine.conftest import make_card

from .conftest import ALICE, BOB, NOW, SERIAL_A, Daemon

RESIDENCE = {"current_residence": "示范县城关镇幸福路1号", "permit_type": "temporary"}


def _certifier(daemon: Daemon) -> dict[str, str]:
    token = daemon.runtime.tokens.create("county-1", "certifier", NOW)[0]
    return {"Authorization": f"Bearer {token}"}


def test_application_story_over_http(daemon: Daemon, tmp_path) -> None:
    c, op, cert = daemon.client, daemon.auth(), _certifier(daemon)
    r = c.post("/v1/applications", json={"identity": BOB, "residence": RESIDENCE}, headers=op)
    assert r.status_code == 201, r.text
    app = r.json()
    assert (app["id"], app["status"], app["due_on"], app["card_serial"]) == (
        "A000001", "submitted", "2026-12-04", None)
    assert c.post("/v1/applications", json={"identity": BOB, "residence": RESIDENCE},
                  headers=op).json()["error"]["code"] == "APPLICATION_OPEN"
    pdf = c.get(f"/v1/applications/{app['id']}/receipt.pdf", headers=op)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "r.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "A000001" in text and "2026-12-04" in text and "110105********1232" in text

    url = f"/v1/applications/{app['id']}"
    r = c.post(f"{url}/certify", json={"decision": "approve"}, headers=cert)
    assert r.status_code == 409 and "is submitted" in r.json()["error"]["message"]
    assert c.post(f"{url}/audit", json={"decision": "approve"}, headers=cert).status_code == 403
    assert c.post(f"{url}/audit", json={"decision": "approve"}, headers=op).status_code == 200
    assert c.post(f"{url}/certify", json={"decision": "approve"}, headers=op).status_code == 403
    r = c.post(f"{url}/certify", json={"decision": "approve"}, headers=cert)
    assert r.json()["status"] == "certified"

    daemon.backend.feed("Sim Reader A", [make_card("52500000000000e1")])
    daemon.backend.feed("Sim Reader B", [])
    with c.websocket_connect("/v1/events", headers={"Host": "127.0.0.1:8765", **cert}) as ws:
        r = c.post("/v1/production/runs", json={"readers": ["No Such Reader"]}, headers=cert)
        assert r.status_code == 404
        r = c.post("/v1/production/runs", json={"readers": "all", "limit": 1}, headers=op)
        assert r.status_code == 403
        run = _start(daemon, cert)
        events = []
        while len(events) < 2:
            event = ws.receive_json()
            if event["type"] == "production.progress":
                events.append(event)
    assert events and events[0]["run_id"] == run["id"] and "eta_seconds" in events[0]
    run = _wait(daemon, run["id"], cert)
    assert (run["state"], run["done"], run["failed"]) == ("finished", 1, 0)
    produced = c.get(url, headers=op).json()
    assert (produced["status"], produced["card_serial"]) == ("produced", "52500000000000e1")
    r = c.post(f"{url}/hand-over", json={"card_serial": "52500000000000e2"}, headers=op)
    assert r.json()["error"]["code"] == "CARD_CHANGED"
    r = c.post(f"{url}/hand-over", json={"card_serial": "52500000000000e1"}, headers=op)
    assert r.json()["status"] == "handed_over"
    assert c.get("/v1/cards/52500000000000e1", headers=op).json()["status"] == "active"


def test_list_filters_cancel_and_overdue(daemon: Daemon) -> None:
    c, op = daemon.client, daemon.auth()
    a = c.post("/v1/applications", json={"identity": BOB, "residence": RESIDENCE},
               headers=op).json()
    b = c.post("/v1/applications", json={
        "identity": ALICE, "kind": "first_issue",
        "residence": {**RESIDENCE, "permit_type": "long_term", "basis": 1}}, headers=op)
    assert b.json()["error"]["rule"] == "basis_evidence_required"
    b = c.post("/v1/applications", json={
        "identity": ALICE, "residence": {**RESIDENCE, "permit_type": "long_term", "basis": 1},
        "evidence": {"kind": "lease_contract", "reference": "HT-7"}}, headers=op).json()
    assert c.get("/v1/applications?overdue=true", headers=op).json() == []
    daemon.clock.advance(days=8)
    late = c.get("/v1/applications?overdue=true", headers=op).json()
    assert [x["id"] for x in late] == [a["id"], b["id"]] and late[0]["overdue"]
    r = c.post(f"/v1/applications/{a['id']}/cancel", json={"reason": "moved away"}, headers=op)
    assert r.json()["status"] == "cancelled"
    assert [x["id"] for x in c.get("/v1/applications?status=cancelled",
                                   headers=op).json()] == [a["id"]]
    assert c.get(f"/v1/applications?citizen_number={ALICE['citizen_number']}",
                 headers=op).json()[0]["id"] == b["id"]
    assert c.get("/v1/applications?status=bogus", headers=op).status_code == 422
    assert c.get("/v1/applications/A999999", headers=op).status_code == 404


def _start(daemon: Daemon, cert: dict) -> dict:
    r = daemon.client.post("/v1/production/runs",
                           json={"readers": ["Sim Reader A", "Sim Reader B"], "card_wait": 0.5},
                           headers=cert)
    assert r.status_code == 202, r.text
    return r.json()


def _wait(daemon: Daemon, run_id: str, cert: dict) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = daemon.client.get(f"/v1/production/runs/{run_id}", headers=cert).json()
        if run["state"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def _certified(daemon: Daemon, cert: dict, body: dict) -> str:
    c, op = daemon.client, daemon.auth()
    r = c.post("/v1/applications", json=body, headers=op)
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    assert c.post(f"/v1/applications/{app_id}/audit", json={"decision": "approve"},
                  headers=op).status_code == 200
    r = c.post(f"/v1/applications/{app_id}/certify", json={"decision": "approve"}, headers=cert)
    assert r.json()["status"] == "certified", r.text
    return app_id


def test_a_read_during_a_run_waits_for_the_runs_card(daemon: Daemon) -> None:
    """A run's card operation holds the reader's worker like any write: a read of that reader
    from another client meanwhile gets READER_BUSY (after its read wait) and sends no APDU; the
    run's card comes out whole."""
    c, cert = daemon.client, _certifier(daemon)
    app_id = _certified(daemon, cert, {"identity": BOB, "residence": RESIDENCE})
    daemon.backend.feed("Sim Reader A", [make_card("52500000000000e5")])
    daemon.backend.hang("Sim Reader A")  # the run's first APDU waits until released
    r = c.post("/v1/production/runs", json={"readers": ["Sim Reader A"], "card_wait": 0.5},
               headers=cert)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 10
    while daemon.backend.apdus.get("Sim Reader A", 0) == 0:
        assert time.monotonic() < deadline, "the run sent no APDU"
        time.sleep(0.02)
    busy = c.get(daemon.url("Sim Reader A"), headers=daemon.auth())
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "READER_BUSY"
    assert daemon.backend.apdus["Sim Reader A"] == 1  # the read never reached the card
    daemon.backend.release()
    run = _wait(daemon, r.json()["id"], cert)
    assert (run["state"], run["done"], run["failed"]) == ("finished", 1, 0)
    produced = c.get(f"/v1/applications/{app_id}", headers=daemon.auth()).json()
    assert produced["card_serial"] == "52500000000000e5"
    card = daemon.backend.ejected[0]
    daemon.backend.insert("Sim Reader B", card)
    read = c.get(daemon.url("Sim Reader B"), headers=daemon.auth()).json()
    assert read["verification"]["status"] == "valid"


def test_replacement_of_a_card_issued_directly_over_http(daemon: Daemon) -> None:
    c, op, cert = daemon.client, daemon.auth(), _certifier(daemon)
    r = daemon.issue()  # ALICE on the blank card in reader A, without an application
    assert r.status_code == 200, r.text
    rep = {"identity": ALICE, "residence": RESIDENCE, "kind": "replacement",
           "replacement": {"card_serial": SERIAL_A, "reason": "damaged"}}
    wrong = c.post("/v1/applications", json={**rep, "identity": {**ALICE, "name": "张山"}},
                   headers=op)
    assert wrong.status_code == 422
    assert wrong.json()["error"]["rule"] == "replacement_identity_mismatch"
    app_id = _certified(daemon, cert, rep)
    daemon.backend.feed("Sim Reader B", [make_card("52500000000000e6")])
    r = c.post("/v1/production/runs", json={"readers": ["Sim Reader B"], "card_wait": 0.5},
               headers=cert)
    run = _wait(daemon, r.json()["id"], cert)
    assert (run["state"], run["done"], run["failed"]) == ("finished", 1, 0)
    r = c.post(f"/v1/applications/{app_id}/hand-over", json={"card_serial": "52500000000000e6"},
               headers=op)
    assert r.json()["status"] == "handed_over", r.text
    old = c.get(f"/v1/cards/{SERIAL_A}", headers=op).json()
    assert (old["status"], old["revoked_reason"]) == ("replaced", "replaced")
    assert c.get("/v1/cards/52500000000000e6", headers=op).json()["status"] == "active"
    assert daemon.runtime.registry().replaced_by(SERIAL_A) == "52500000000000e6"


def test_a_due_date_in_the_provisional_2027_calendar_is_marked(daemon: Daemon, tmp_path) -> None:
    """2027 ships with the statutory days only (no State Council arrangement yet): a due date
    there says so in the application and on the receipt; 2026's do not."""
    c, op = daemon.client, daemon.auth()
    first = c.post("/v1/applications", json={"identity": BOB, "residence": RESIDENCE},
                   headers=op).json()
    assert (first["due_on"], first["due_on_provisional"]) == ("2026-12-04", False)
    daemon.clock.advance(days=30)  # Monday 28 December 2026
    late = c.post("/v1/applications", json={"identity": ALICE, "residence": RESIDENCE},
                  headers=op).json()
    # 29, 30, 31 December, (1 January off), 4, 5 January
    assert (late["due_on"], late["due_on_provisional"]) == ("2027-01-05", True)
    assert c.get(f"/v1/applications/{late['id']}", headers=op).json()["due_on_provisional"]
    (tmp_path / "r.pdf").write_bytes(
        c.get(f"/v1/applications/{late['id']}/receipt.pdf", headers=op).content)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "2027-01-05 (provisional calendar)" in text


def test_a_mute_card_ends_its_readers_part_of_the_run(daemon: Daemon) -> None:
    """A card that stops answering during production: after one command outlives the PC/SC
    limit the run records CARD_TIMEOUT for its application and that reader's worker ends (the
    run does not hang); the application is certified again once the run is over."""
    cert = _certifier(daemon)
    app_id = _certified(daemon, cert, {"identity": BOB, "residence": RESIDENCE})
    daemon.backend.feed("Sim Reader A", [make_card("52500000000000e7")])
    daemon.backend.report_call_age = True  # as a PC/SC connection does
    daemon.backend.hang("Sim Reader A")
    r = daemon.client.post("/v1/production/runs",
                           json={"readers": ["Sim Reader A"], "card_wait": 0.5}, headers=cert)
    run = _wait(daemon, r.json()["id"], cert)
    assert (run["state"], run["done"], run["failed"]) == ("finished", 0, 1)
    assert run["results"][0] == {"application_id": app_id, "card_serial": None,
                                 "error": "CARD_TIMEOUT", "print": None}
    busy = daemon.client.get(daemon.url("Sim Reader A"), headers=daemon.auth())
    assert busy.json()["error"]["code"] == "CARD_TIMEOUT"  # the reader stays stuck meanwhile
    daemon.backend.release()


def test_a_run_stopped_over_http_finishes_its_card_and_takes_no_other(daemon: Daemon) -> None:
    """POST .../stop: the card in hand is finished; the reader then waiting for its next card
    takes none; the other application stays certified for the next run. A second stop changes
    nothing; only a certifier may stop; the run is listed."""
    c, cert = daemon.client, _certifier(daemon)
    first = _certified(daemon, cert, {"identity": BOB, "residence": RESIDENCE})
    second = _certified(daemon, cert, {"identity": ALICE, "residence": RESIDENCE})
    daemon.backend.feed("Sim Reader A", [make_card("52500000000000e7")])
    r = c.post("/v1/production/runs", json={"readers": ["Sim Reader A"], "card_wait": 600},
               headers=cert)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    deadline = time.monotonic() + 20
    while c.get(f"/v1/production/runs/{run_id}", headers=cert).json()["done"] < 1:
        assert time.monotonic() < deadline, "the first card was not produced"
        time.sleep(0.05)
    stop = f"/v1/production/runs/{run_id}/stop"
    assert c.post(stop, json={}, headers=daemon.auth()).json()["error"]["code"] == "FORBIDDEN"
    r = c.post(stop, json={}, headers=cert)
    assert r.status_code == 202 and r.json()["stop_requested"] is True
    run = _wait(daemon, run_id, cert)
    assert (run["state"], run["done"], run["failed"], run["left"]) == ("stopped", 1, 0, 1)
    again = c.post(stop, json={}, headers=cert)
    assert (again.status_code, again.json()["state"]) == (202, "stopped")
    statuses = {a: c.get(f"/v1/applications/{a}", headers=cert).json()["status"]
                for a in (first, second)}
    assert statuses == {first: "produced", second: "certified"}
    listed = c.get("/v1/production/runs", headers=daemon.auth()).json()
    assert [x["id"] for x in listed] == [run_id] and listed[0]["state"] == "stopped"
    assert c.post("/v1/production/runs/run-nosuchrun/stop", json={},
                  headers=cert).status_code == 404


def test_a_name_the_card_face_cannot_print_is_refused_at_intake(daemon: Daemon) -> None:
    """Refused while the holder is at the counter (it would fail only at production else)."""
    c, op = daemon.client, daemon.auth()
    r = c.post("/v1/applications", json={"identity": {**BOB, "name": "王\U00030000"},
                                          "residence": RESIDENCE}, headers=op)
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["code"], err["field"]) == ("VALIDATION_ERROR", "identity.name")
    assert "U+30000" in err["message"]
    assert c.get("/v1/applications", headers=op).json() == []
    r = c.post("/v1/applications", json={"identity": {**BOB, "name": "王\U00020000明"},
                                          "residence": RESIDENCE}, headers=op)
    assert r.status_code == 201, r.text  # Extension B: the face's fallback font prints it
