"""Console application pages: intake, the audit and certification queues with role gating and
CSRF, field and rule messages, the receipt, the overdue list and hand-over of a produced card
read in a reader (a production run through the API with in-process cards in a feeder)."""

from __future__ import annotations

import re
import subprocess
import time

from cardservice.transport.readers import reader_id
from tests.api.conftest import ALICE, BOB, NOW, READER_A, READER_B
from tests.engine.conftest import make_card

from .conftest import csrf_of, form_post

APPS = "/console/applications"
INTAKE = {"kind": "first_issue", **BOB, "current_residence": "示范县城关镇幸福路1号",
          "permit_type": "temporary"}


def _submit(client, **changes: str):
    page = client.get(f"{APPS}/new")
    assert page.status_code == 200 and 'id="intake-form"' in page.text
    return form_post(client, f"{APPS}/new", {"csrf": csrf_of(page.text), **INTAKE, **changes})


def _decide(client, app_id: str, stage: str, decision: str, reason: str = ""):
    page = client.get(f"{APPS}/{app_id}")
    csrf = csrf_of(page.text)
    return form_post(client, f"{APPS}/{app_id}/{stage}",
                     {"csrf": csrf, "decision": decision, "reason": reason})


def _status(daemon, app_id: str) -> str:
    return daemon.client.get(f"/v1/applications/{app_id}", headers=daemon.auth()).json()["status"]


def _submitted_id(page) -> str:
    assert page.status_code == 200, page.text
    found = re.search(r'id="submitted"[^>]*>申请 (A\d+) 已受理，办结时限 ([\d-]+)。<', page.text)
    assert found, page.text
    return found.group(1)


def test_submit_audit_certify_with_clerks_as_actors(clerks, as_clerk, tmp_path):
    operator, certifier = as_clerk("operator"), as_clerk("certifier")
    done = _submit(operator)
    app_id = _submitted_id(done)
    assert "2026-12-04" in done.text and f'{APPS}/{app_id}/receipt.pdf' in done.text
    pdf = operator.get(f"{APPS}/{app_id}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "r.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert app_id in text and "2026-12-04" in text

    queue = operator.get(APPS)  # the operator's own queue: audit
    assert f'data-application="{app_id}"' in queue.text and "审核队列" in queue.text
    assert f'data-application="{app_id}"' not in certifier.get(APPS).text  # not audited yet
    assert 'id="decision-form"' not in certifier.get(f"{APPS}/{app_id}").text
    assert _decide(operator, app_id, "audit", "approve").status_code == 303
    assert _status(clerks, app_id) == "audited"

    assert f'data-application="{app_id}"' in certifier.get(APPS).text  # certification queue
    assert _decide(certifier, app_id, "certify", "approve").status_code == 303
    assert _status(clerks, app_id) == "certified"
    detail = operator.get(f"{APPS}/{app_id}").text
    assert detail.count("clerk:") == 3 and 'data-status="certified"' in detail

    entries = clerks.client.get("/v1/audit", headers=clerks.auth("admin")).json()
    actors = {e["operation"]: e["actor"] for e in entries}
    assert actors["application.submit"] == "clerk:operator-clerk"
    assert actors["application.audit_approve"] == "clerk:operator-clerk"
    assert actors["application.certify_approve"] == "clerk:certifier-clerk"


def test_roles_gate_each_queue(clerks, as_clerk):
    operator, certifier, reader = as_clerk("operator"), as_clerk("certifier"), as_clerk("reader")
    app_id = _submitted_id(_submit(operator))
    csrf = csrf_of(certifier.get(f"{APPS}/{app_id}").text)
    refused = form_post(certifier, f"{APPS}/{app_id}/audit", {"csrf": csrf, "decision": "approve"})
    assert refused.status_code == 403  # a certifier cannot audit
    assert certifier.get(f"{APPS}/new").status_code == 403  # nor take applications
    assert reader.get(f"{APPS}/new").status_code == 403
    assert _decide(operator, app_id, "audit", "approve").status_code == 303
    csrf = csrf_of(operator.get(f"{APPS}/{app_id}").text)
    refused = form_post(operator, f"{APPS}/{app_id}/certify", {"csrf": csrf, "decision": "approve"})
    assert refused.status_code == 403  # an operator cannot certify
    assert 'id="decision-form"' not in operator.get(f"{APPS}/{app_id}").text
    assert _status(clerks, app_id) == "audited"
    # the admin may do both
    assert _decide(as_clerk("admin"), app_id, "certify", "approve").status_code == 303


def test_forms_without_csrf_are_refused(clerks, as_clerk):
    operator = as_clerk("operator")
    r = form_post(operator, f"{APPS}/new", INTAKE)
    assert r.status_code == 403
    assert clerks.client.get("/v1/applications", headers=clerks.auth()).json() == []
    app_id = _submitted_id(_submit(operator))
    r = form_post(operator, f"{APPS}/{app_id}/audit", {"csrf": "forged", "decision": "approve"})
    assert r.status_code == 403 and _status(clerks, app_id) == "submitted"
    cross = form_post(operator, f"{APPS}/{app_id}/audit", {"decision": "approve"},
                      Origin="https://evil.example")
    assert cross.status_code == 403 and _status(clerks, app_id) == "submitted"


def test_intake_field_and_rule_messages(clerks, as_clerk):
    operator = as_clerk("operator")
    empty = _submit(operator, name="")
    assert empty.status_code == 422 and 'id="e-name"' in empty.text
    assert 'aria-invalid="true"' in empty.text
    assert 'value="110105' in empty.text  # what was typed stays
    kind = _submit(operator, permit_type="")
    assert kind.status_code == 422 and 'id="e-permit_type"' in kind.text
    rule = _submit(operator, permit_type="long_term", basis="1")
    assert rule.status_code == 422 and "需提供证明材料" in rule.text
    ok = _submit(operator, permit_type="long_term", basis="1", evidence_kind="lease_contract",
                 evidence_reference="HT-7")
    app_id = _submitted_id(ok)
    again = _submit(operator)
    assert again.status_code == 409 and "已有办理中的申请" in again.text
    assert clerks.client.get(f"/v1/applications/{app_id}", headers=clerks.auth()).json()[
        "evidence"] == {"kind": "lease_contract", "reference": "HT-7"}
    other = {"citizen_number": "11010519491231002X", "gender": "female"}  # no open application
    unprintable = _submit(operator, name="王\U00030000", **other)
    assert unprintable.status_code == 422 and 'id="e-name"' in unprintable.text
    assert "含有卡面字库无法印制的字" in unprintable.text
    too_long = _submit(operator, name="W" * 60, **other)
    assert too_long.status_code == 422 and "太长，卡面上印不下" in too_long.text


def test_reject_needs_a_reason_and_a_decided_one_cannot_be_decided_again(clerks, as_clerk):
    operator = as_clerk("operator")
    app_id = _submitted_id(_submit(operator))
    bare = _decide(operator, app_id, "audit", "reject")
    assert bare.status_code == 422 and 'id="e-reason"' in bare.text
    assert _status(clerks, app_id) == "submitted"
    assert _decide(operator, app_id, "audit", "reject", "证件不清晰").status_code == 303
    assert _status(clerks, app_id) == "rejected"
    detail = operator.get(f"{APPS}/{app_id}").text
    assert "证件不清晰" in detail and 'id="decision-form"' not in detail
    csrf = csrf_of(detail)
    late = form_post(operator, f"{APPS}/{app_id}/audit", {"csrf": csrf, "decision": "approve"})
    assert late.status_code == 409 and "状态不允许" in late.text


def test_overdue_list(clerks, as_clerk):
    operator = as_clerk("operator")
    app_id = _submitted_id(_submit(operator))
    assert f'data-application="{app_id}"' not in operator.get(f"{APPS}?overdue=1").text
    clerks.clock.advance(days=8)
    operator = as_clerk("operator")  # the old session has idled out
    late = operator.get(f"{APPS}?overdue=1")
    assert late.status_code == 200 and "超期" in late.text
    assert re.search(rf'data-application="{app_id}" class="overdue"', late.text)
    assert operator.get(f"{APPS}?queue=bogus").status_code == 422


def _produce(daemon, certifier, app_id: str) -> object:
    """A production run started from the console's production page with one in-process card
    in a feeder; answers the produced card."""
    daemon.backend.feed(READER_B, [make_card("52500000000000e1")])
    page = certifier.get("/console/production")
    assert page.status_code == 200 and "1 件已审批的申请等待制卡" in page.text
    rid = reader_id(READER_B)
    started = form_post(certifier, "/console/production",
                        {"csrf": csrf_of(page.text), "reader": rid, "card_wait": "0.5"})
    assert started.status_code == 303, started.text
    run_url = started.headers["location"]
    assert 'id="run-progress"' in certifier.get(run_url).text
    deadline = time.monotonic() + 20
    while (progress := certifier.get(f"{run_url}/progress").json())["state"] == "running":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.05)
    assert (progress["done"], progress["failed"], progress["readers"]) == (1, 0, [READER_B])
    assert progress["results"][0]["application_id"] == app_id
    run_page = certifier.get(run_url).text
    assert "52500000000000e1" in run_page and 'data-state="finished"' in run_page
    assert _status(daemon, app_id) == "produced"
    return daemon.backend.ejected[0]


def test_production_page_is_the_certifiers(clerks, as_clerk):
    operator, certifier = as_clerk("operator"), as_clerk("certifier")
    assert operator.get("/console/production").status_code == 403
    csrf = csrf_of(operator.get(APPS).text)
    assert form_post(operator, "/console/production", {"csrf": csrf}).status_code == 403
    assert form_post(certifier, "/console/production", {"card_wait": "1"}).status_code == 403  # no CSRF
    page = certifier.get("/console/production")
    bad = form_post(certifier, "/console/production",
                    {"csrf": csrf_of(page.text), "card_wait": "0"})
    assert bad.status_code == 422 and "等待下一张卡的秒数" in bad.text
    assert certifier.get("/console/production/P-nope").status_code == 404


def test_hand_over_reads_the_card_in_the_reader(clerks, as_clerk):
    operator, certifier = as_clerk("operator"), as_clerk("certifier")
    app_id = _submitted_id(_submit(operator))
    _decide(operator, app_id, "audit", "approve")
    _decide(certifier, app_id, "certify", "approve")
    card = _produce(clerks, certifier, app_id)
    rid = reader_id(READER_A)
    page = operator.get(f"{APPS}/{app_id}")
    assert 'id="hand-over-form"' in page.text and f'value="{rid}"' in page.text
    wrong = form_post(operator, f"{APPS}/{app_id}/hand-over",
                      {"csrf": csrf_of(page.text), "rid": rid})  # the blank card of reader A
    assert wrong.status_code == 409 and 'data-status="produced"' in wrong.text
    assert "不是为本申请制作的卡" in wrong.text  # not "another card was put in"
    assert f'<option value="{rid}" selected>' in wrong.text  # the reader stays chosen
    clerks.backend.insert(READER_A, card)
    done = form_post(operator, f"{APPS}/{app_id}/hand-over",
                     {"csrf": csrf_of(page.text), "rid": rid})
    assert done.status_code == 200 and 'id="handed-over"' in done.text
    assert 'data-status="handed_over"' in done.text
    assert clerks.client.get("/v1/cards/52500000000000e1",
                             headers=clerks.auth()).json()["status"] == "active"
    entries = clerks.client.get("/v1/audit", headers=clerks.auth("admin")).json()
    assert {e["operation"]: e["actor"] for e in entries}[
        "application.hand_over"] == "clerk:operator-clerk"


def test_english_catalogue_has_every_application_key(clerks, as_clerk):
    operator = as_clerk("operator")
    operator.cookies.set("cs_lang", "en")
    page = _submit(operator, **{k: v for k, v in ALICE.items()})
    assert "Application A" in page.text and "submitted; due on" in page.text


def test_a_run_is_stopped_from_its_page(clerks, as_clerk):
    """The run page's Stop button (certifier, CSRF): the card in hand is finished, the reader
    waiting for its next card takes none, and the button goes once the run has stopped."""
    daemon, certifier = clerks, as_clerk("certifier")
    token = daemon.runtime.tokens.create("county-1", "certifier", NOW)[0]
    api = {"Authorization": f"Bearer {token}"}
    for person in (BOB, ALICE):
        r = daemon.client.post("/v1/applications", headers=daemon.auth(), json={
            "identity": person, "residence": {"current_residence": "示范县城关镇幸福路1号",
                                              "permit_type": "temporary"}})
        app_id = r.json()["id"]
        for stage, headers in (("audit", daemon.auth()), ("certify", api)):
            r = daemon.client.post(f"/v1/applications/{app_id}/{stage}",
                                   json={"decision": "approve"}, headers=headers)
            assert r.status_code == 200, r.text
    daemon.backend.feed(READER_B, [make_card("52500000000000e8")])
    page = certifier.get("/console/production")
    started = form_post(certifier, "/console/production", {
        "csrf": csrf_of(page.text), "reader": reader_id(READER_B), "card_wait": "600"})
    run_url = started.headers["location"]
    deadline = time.monotonic() + 20
    while certifier.get(f"{run_url}/progress").json()["done"] < 1:
        assert time.monotonic() < deadline, "the first card was not produced"
        time.sleep(0.05)
    running = certifier.get(run_url).text
    assert re.search(r'<form[^>]*id="stop-form">', running)  # shown: not hidden
    operator = as_clerk("operator")
    csrf = csrf_of(operator.get(APPS).text)
    assert form_post(operator, f"{run_url}/stop", {"csrf": csrf}).status_code == 403
    assert form_post(certifier, f"{run_url}/stop", {"go": "1"}).status_code == 403  # no CSRF
    stopped = form_post(certifier, f"{run_url}/stop", {"csrf": csrf_of(running)})
    assert (stopped.status_code, stopped.headers["location"]) == (303, run_url)
    while (progress := certifier.get(f"{run_url}/progress").json())["state"] == "running":
        assert time.monotonic() < deadline, "the run did not stop"
        time.sleep(0.05)
    assert (progress["state"], progress["done"], progress["left"]) == ("stopped", 1, 1)
    assert progress["stop_requested"] is True
    assert re.search(r'<form[^>]*id="stop-form" hidden>', certifier.get(run_url).text)


def test_an_unsettled_production_write_shows_in_the_api_and_the_console(clerks, as_clerk):
    """A certified application whose production write has no outcome (its run was killed and
    the card carried off: tests/workflow/test_unsettled_writes.py makes one with a real write)
    says so until the write is settled: ``unsettled_write`` in the API, a badge in the list, a
    notice on its page, and a list of the cards to read on the production page."""
    daemon, operator = clerks, as_clerk("operator")
    token = daemon.runtime.tokens.create("county-1", "certifier", NOW)[0]
    api = {"Authorization": f"Bearer {token}"}
    app_id = daemon.client.post("/v1/applications", headers=daemon.auth(), json={
        "identity": BOB, "residence": {"current_residence": "示范县城关镇幸福路1号",
                                       "permit_type": "temporary"}}).json()["id"]
    for stage, headers in (("audit", daemon.auth()), ("certify", api)):
        daemon.client.post(f"/v1/applications/{app_id}/{stage}", json={"decision": "approve"},
                           headers=headers)
    shown = daemon.client.get(f"/v1/applications/{app_id}", headers=daemon.auth()).json()
    assert (shown["status"], shown["unsettled_write"]) == ("certified", None)
    audit = daemon.runtime.audit()
    intent = audit.intent(operation="issue", card_serial="52500000000000e9", reader=READER_A,
                          actor="county-1", now=NOW, detail={
                              "register_as": "produced", "citizen_number": BOB["citizen_number"]})

    listed = daemon.client.get("/v1/applications?status=certified", headers=daemon.auth())
    expected = {"card_serial": "52500000000000e9", "intent_id": intent,
                "since": NOW.isoformat()}
    assert [a["unsettled_write"] for a in listed.json()] == [expected]
    assert daemon.client.get(f"/v1/applications/{app_id}",
                             headers=daemon.auth()).json()["unsettled_write"] == expected
    queue = operator.get(f"{APPS}?status=certified").text
    assert 'data-unsettled="52500000000000e9"' in queue and "待读卡" in queue
    page = operator.get(f"{APPS}/{app_id}").text
    assert 'id="unsettled-write"' in page and "卡片 52500000000000e9 的制卡写入" in page
    production = as_clerk("certifier").get("/console/production").text
    assert "其中 1 件待读卡" in production
    assert f'<li data-unsettled="52500000000000e9"><a href="{APPS}/{app_id}">' in production

    audit.outcome(intent, success=False, sequence=None, error_code="CARD_BLANK", detail={},
                  now=NOW)  # settled (the card read blank): produced again by the next run
    assert daemon.client.get(f"/v1/applications/{app_id}",
                             headers=daemon.auth()).json()["unsettled_write"] is None
    assert 'id="unsettled-write"' not in operator.get(f"{APPS}/{app_id}").text
    assert 'id="unsettled"' not in as_clerk("certifier").get("/console/production").text


def test_another_sites_application_is_not_audited_here(clerks, as_clerk):
    """An application taken at site-b: this site's clerk is told it is audited there (the
    role would allow it; the message does not blame the role)."""
    from cardservice.api.routes.applications import applications
    from cardservice.workflow.service import Actor
    from tests.workflow.conftest import draft
    from tests.workflow_fixtures import BOB

    app = applications(clerks.runtime).submit(draft(BOB), Actor("clerk-b", "site-b"))
    page = _decide(as_clerk("operator"), app.id, "audit", "approve")
    assert "此申请由其他受理点受理，须在该受理点审核和发放卡片。" in page.text
    assert _status(clerks, app.id) == "submitted"
