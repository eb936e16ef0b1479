"""Basis evidence at the console: the re-sign and renew forms take it, the confirmation decides
as the write does (a write the rules refuse is refused before the confirmation page) and lists
the evidence, which the write's audit entry then carries; the intake form offers every kind
the permit policy accepts, labelled in both languages."""

from __future__ import annotations

import re

from cardservice.console.i18n import catalogue
from cardservice.engine.policy import EVIDENCE_KINDS
from cardservice.transport.readers import reader_id
from tests.api.conftest import READER_A, SERIAL_A, issue_body

from .conftest import csrf_of, form_post
from .test_applications import APPS, _submit, _submitted_id

CARD = f"/console/readers/{reader_id(READER_A)}"
LICENCE = {"evidence_kind": "business_licence", "evidence_reference": "91650000MA0000000X"}


def _form(client, operation: str, **fields: str) -> dict:
    page = client.get(f"{CARD}/{operation}")
    assert page.status_code == 200 and 'id="f-evidence_kind"' in page.text
    assert 'id="f-evidence_reference"' in page.text
    return {"csrf": csrf_of(page.text), "card_serial": SERIAL_A.lower(), **fields}


def _intents(daemon, operation: str) -> list[dict]:
    entries = daemon.client.get("/v1/audit", headers=daemon.auth("admin")).json()
    return [e for e in entries if e["operation"] == operation and e["kind"] == "intent"]


def _sequence(daemon) -> int:
    return daemon.client.get(daemon.url(), headers=daemon.auth()).json()["residence"]["sequence"]


def test_renew_to_long_term_needs_evidence_at_the_preview(clerks, as_clerk):
    assert clerks.issue().status_code == 200  # temporary
    client = as_clerk("operator")
    client.get("/console/lang/en")
    data = _form(client, "renew", permit_type="long_term", basis="3")
    refused = form_post(client, f"{CARD}/renew", data)
    assert refused.status_code == 422 and 'id="confirm-form"' not in refused.text
    assert re.search(r'id="e-evidence_kind"[^>]*>A long-term permit on this basis needs '
                     r'evidence \(kind and number\)', refused.text), refused.text
    assert 'value="3" selected' in refused.text  # what was chosen stays
    half = form_post(client, f"{CARD}/renew", {**data, "evidence_kind": "business_licence"})
    assert half.status_code == 422 and 'id="e-evidence_reference"' in half.text
    long_ = form_post(client, f"{CARD}/renew", {**data, **LICENCE, "evidence_reference": "9" * 101})
    assert long_.status_code == 422
    assert re.search(r'id="e-evidence_reference"[^>]*>Evidence number: is too long<', long_.text)
    wrong = form_post(client, f"{CARD}/renew", {**data, "evidence_kind": "lease_contract",
                                               "evidence_reference": "HT-1"})
    assert wrong.status_code == 422 and 'id="e-evidence_kind"' in wrong.text

    data = {**data, **LICENCE}
    confirm = form_post(client, f"{CARD}/renew", data)
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.text
    assert re.search(r'id="evidence-kind">Business licence<', confirm.text)
    assert re.search(r'id="evidence-reference">91650000MA0000000X<', confirm.text)
    assert _sequence(clerks) == 1  # nothing written yet
    done = form_post(client, f"{CARD}/renew/confirm", data)
    assert done.status_code == 200 and "is renewed" in done.text
    assert _sequence(clerks) == 2
    intent = _intents(clerks, "renew")[0]
    assert intent["actor"] == "clerk:operator-clerk"
    assert intent["detail"]["evidence"] == {"kind": "business_licence",
                                            "reference": "91650000MA0000000X"}
    assert (intent["detail"]["permit_type"], intent["detail"]["basis"]) == ("long_term", 3)


def test_a_move_on_basis_1_needs_new_evidence_at_the_preview(clerks, as_clerk):
    body = {**issue_body(permit_type="long_term", basis=1),
            "evidence": {"kind": "lease_contract", "reference": "HT-2026-0001"}}
    assert clerks.issue(body=body).status_code == 200
    client = as_clerk("operator")
    data = _form(client, "resign", current_residence="示范县新城街道和平路12号")
    refused = form_post(client, f"{CARD}/resign", data)
    assert refused.status_code == 422 and 'id="confirm-form"' not in refused.text
    assert 'id="e-evidence_kind"' in refused.text and "需提供证明材料" in refused.text
    data = {**data, "evidence_kind": "property_certificate", "evidence_reference": "FC-88"}
    confirm = form_post(client, f"{CARD}/resign", data)
    assert confirm.status_code == 200 and re.search(r'id="evidence-kind">房产证<', confirm.text)
    done = form_post(client, f"{CARD}/resign/confirm", data)
    assert done.status_code == 200 and 'id="done"' in done.text
    assert _intents(clerks, "resign")[0]["detail"]["evidence"] == {
        "kind": "property_certificate", "reference": "FC-88"}


def test_renew_keeping_the_basis_needs_no_evidence(clerks, as_clerk):
    assert clerks.issue().status_code == 200
    client = as_clerk("operator")
    data = _form(client, "renew")
    confirm = form_post(client, f"{CARD}/renew", data)
    assert confirm.status_code == 200 and 'id="confirm-evidence"' not in confirm.text
    assert form_post(client, f"{CARD}/renew/confirm", data).status_code == 200
    assert "evidence" not in _intents(clerks, "renew")[0]["detail"]


def test_intake_offers_every_kind_the_policy_accepts(clerks, as_clerk):
    kinds = {k for ks in EVIDENCE_KINDS.values() for k in ks}
    for lang in ("en", "zh-CN"):
        assert {k for k in kinds if f"evidence.{k}" not in catalogue(lang)} == set(), lang
    operator = as_clerk("operator")
    page = operator.get(f"{APPS}/new").text
    select = re.search(r'<select id="f-evidence_kind".*?</select>', page, re.DOTALL).group(0)
    assert set(re.findall(r'<option value="([a-z_]+)"', select)) == kinds
    assert "营业执照（居住事由 3）" in select
    app_id = _submitted_id(_submit(operator, permit_type="long_term", basis="3", **LICENCE))
    app = clerks.client.get(f"/v1/applications/{app_id}", headers=clerks.auth()).json()
    assert app["evidence"] == {"kind": "business_licence", "reference": "91650000MA0000000X"}
    assert app["residence"]["basis"] == 3
