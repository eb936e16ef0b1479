"""Console pages over simulated readers: the card page, re-sign and renew with confirmation,
field and rule messages, revoke, the audit page, roles, and the offline /docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cardservice.engine.policy import add_months
from cardservice.transport.readers import reader_id
from tests.api.conftest import SERIAL_A, issue_body
from tests.face_layouts import EXT_B_NAME, without_fallback_font

from .conftest import BASE_URL, READER_A, csrf_of, form_post

RID = reader_id(READER_A)
CARD = f"/console/readers/{RID}"


def _issued(daemon) -> None:
    assert daemon.issue().status_code == 200


def test_card_page_shows_identity_verdict_registry_history(clerks, as_clerk):
    _issued(clerks)
    page = as_clerk("operator").get(CARD)
    assert page.status_code == 200
    assert "张三" in page.text and "示范县城关镇幸福路1号" in page.text
    assert 'id="verdict"' in page.text and "有效" in page.text
    assert page.text.count('class="check succeeded"') >= 5
    assert 'id="registry"' in page.text and 'id="audit-table"' in page.text
    assert 'id="action-resign"' in page.text and 'id="action-revoke"' not in page.text


def _resign(client, residence: str, **extra: str):
    form = client.get(f"{CARD}/resign")
    data = {"csrf": csrf_of(form.text), "card_serial": SERIAL_A.lower(),
            "current_residence": residence, **extra}
    return form_post(client, f"{CARD}/resign", data), data


def test_resign_confirm_then_written_with_new_verdict(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("operator")
    confirm, data = _resign(client, "示范县新城街道和平路12号")
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.text
    old, new = (re.search(rf'id="{k}".*?current-residence">([^<]+)<', confirm.text, re.DOTALL)
                .group(1) for k in ("old", "new"))
    assert (old, new) == ("示范县城关镇幸福路1号", "示范县新城街道和平路12号")
    assert clerks.backend  # nothing written yet:
    assert clerks.client.get(clerks.url(), headers=clerks.auth()).json()["residence"][
        "sequence"] == 1
    done = form_post(client, f"{CARD}/resign/confirm", data)
    assert done.status_code == 200 and 'id="done"' in done.text
    assert "示范县新城街道和平路12号" in done.text and 'class="badge valid"' in done.text
    entries = clerks.client.get("/v1/audit", headers=clerks.auth("admin")).json()
    assert entries[0]["operation"] == "resign" and entries[0]["actor"] == "clerk:operator-clerk"


def test_bad_input_shows_the_fields_message(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("operator")
    empty, _ = _resign(client, "   ")
    assert empty.status_code == 422
    assert re.search(r'id="e-current_residence"[^>]*>现居住地址：不能为空<', empty.text), \
        re.findall(r'field-error.*?</span>|alert.*?</p>', empty.text)
    assert 'aria-invalid="true"' in empty.text
    long_, _ = _resign(client, "路" * 200)
    assert "现居住地址：太长了" in long_.text
    rule, _ = _resign(client, "示范县新区8号", expires_on="2099-01-01")
    assert rule.status_code == 422 and "迁居重新签注保持原有效期" in rule.text  # as the write
    rule, _ = _resign(client, "示范县新区8号", permit_type="long_term", basis="2")
    assert rule.status_code == 422 and "需提供证明材料" in rule.text
    date, _ = _resign(client, "示范县新区8号", expires_on="tomorrow")
    assert 'id="e-expires_on"' in date.text


def test_another_card_in_the_reader_is_refused(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("operator")
    changed, _ = _resign(client, "示范县新区8号", card_serial="0000000000000001")
    assert changed.status_code == 409 and "换了另一张卡" in changed.text


def test_renew_in_english(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("operator")
    client.get("/console/lang/en")
    form = client.get(f"{CARD}/renew")
    data = {"csrf": csrf_of(form.text), "card_serial": SERIAL_A.lower(),
            "permit_type": "long_term", "basis": "1"}
    # temporary -> long-term needs basis evidence: refused before the confirmation page
    refused = form_post(client, f"{CARD}/renew", data)
    assert refused.status_code == 422 and "needs evidence (kind and number)" in refused.text
    assert 'id="confirm-form"' not in refused.text
    data = {**data, "evidence_kind": "lease_contract", "evidence_reference": "HT-2026-0042"}
    confirm = form_post(client, f"{CARD}/renew", data)
    assert "long-term" in confirm.text and "Write to the card" in confirm.text
    assert "Lease contract" in confirm.text
    data = {**data, "permit_type": "temporary", "basis": "", "evidence_kind": "",
            "evidence_reference": ""}
    done = form_post(client, f"{CARD}/renew/confirm", data)
    assert done.status_code == 200 and "is renewed" in done.text


def test_reader_role_sees_no_write_buttons_and_writes_are_refused(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("reader")
    page = client.get(CARD)
    assert page.status_code == 200 and "action-" not in page.text
    assert client.get(f"{CARD}/resign").status_code == 403
    data = {"csrf": csrf_of(page.text), "card_serial": SERIAL_A.lower(),
            "current_residence": "示范县新区8号"}
    refused = form_post(client, f"{CARD}/resign/confirm", data)
    assert refused.status_code == 403 and "FORBIDDEN" in refused.text
    api = client.post(f"/v1/readers/{RID}/card/resign", json={"current_residence": "x"})
    assert api.status_code == 401  # the session cookie is no API credential


def test_revoke_by_admin_with_confirmation(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("admin")
    page = client.get(CARD)
    assert 'id="action-revoke"' in page.text
    url = f"/console/cards/{SERIAL_A.lower()}/revoke"
    csrf = csrf_of(client.get(url).text)
    missing = form_post(client, url, {"csrf": csrf, "reason": ""})
    assert missing.status_code == 422 and 'id="e-reason"' in missing.text
    confirm = form_post(client, url, {"csrf": csrf, "reason": "lost"})
    assert 'id="confirm-form"' in confirm.text
    done = form_post(client, f"{url}/confirm", {"csrf": csrf, "reason": "lost"})
    assert done.status_code == 200 and 'id="done"' in done.text
    row = clerks.client.get(f"/v1/cards/{SERIAL_A}", headers=clerks.auth()).json()
    assert row["status"] == "lost"
    assert as_clerk("operator").get(url).status_code == 403


def test_audit_page_filters_and_checks_the_chain(clerks, as_clerk):
    _issued(clerks)
    operator = as_clerk("operator")
    _, data = _resign(operator, "示范县新区8号")
    form_post(operator, f"{CARD}/resign/confirm", data)
    admin = as_clerk("admin")
    page = admin.get("/console/audit")
    assert page.status_code == 200 and 'class="alert ok" id="chain"' in page.text
    mine = admin.get("/console/audit", params={"clerk": "operator-clerk"})
    assert mine.text.count("clerk:operator-clerk") == 2  # its intent and outcome
    none = admin.get("/console/audit", params={"clerk": "admin-clerk"})
    assert "clerk:operator-clerk" not in none.text
    bad = admin.get("/console/audit", params={"card": "xyz"})
    assert 'id="e-card"' in bad.text
    assert operator.get("/console/audit").status_code == 403


def test_docs_load_nothing_from_outside(clerks):
    page = clerks.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources)
    for source in sources:
        assert clerks.client.get(source).status_code == 200, source
    assert "http" not in page.text.replace("http-equiv", "")


def test_card_page_shows_the_card_face(clerks, as_clerk):
    _issued(clerks)
    client = as_clerk("reader")
    page = client.get(CARD)
    sources = re.findall(r'<img src="([^"]+)" alt="[^"]+" class="face">', page.text)
    assert sources == [f"{CARD}/face/front.png", f"{CARD}/face/back.png"]
    for source in sources:
        image = client.get(source)
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    anonymous = TestClient(clerks.client.app, base_url=BASE_URL)  # a session is needed
    assert anonymous.get(sources[0], follow_redirects=False).status_code == 303


def test_card_page_names_what_this_sites_face_cannot_print(clerks, as_clerk, tmp_path):
    body = issue_body({**issue_body()["identity"], "name": EXT_B_NAME})
    assert clerks.issue(body=body).status_code == 200
    client = as_clerk("reader")
    assert 'id="face-problems"' not in client.get(CARD).text
    clerks.runtime.engine.face = without_fallback_font(tmp_path / "other-site")
    shown = r'<li data-field="([^"]+)" data-reason="([^"]+)"><strong>([^<]+)</strong> ([^<]+)</li>'
    assert re.findall(shown, client.get(CARD).text) == [
        ("name", "no_glyph", "姓名", "含有卡面字库无法印制的字")]
    client.get("/console/lang/en")
    assert re.findall(shown, client.get(CARD).text) == [
        ("name", "no_glyph", "Name", "has a character that no font of the card face can print")]
    image = client.get(f"{CARD}/face/front.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.headers["x-face-problems"] == "identity.name=no_glyph"


def test_a_move_can_renew_in_the_same_write(clerks, as_clerk):
    """A re-sign keeps the expiry; with "renew as well" (the API's ``extend``) the check page
    and the card show the new one: a temporary permit runs 6 months from the move."""
    _issued(clerks)
    before = clerks.client.get(clerks.url(), headers=clerks.auth()).json()["residence"]
    clerks.clock.advance(days=40)
    client = as_clerk("operator")
    kept, _ = _resign(client, "示范县新城街道和平路12号")
    expiry = r'id="new".*?\d{4}-\d\d-\d\d – (\d{4}-\d\d-\d\d)</dd>'
    assert re.search(expiry, kept.text, re.DOTALL).group(1) == before["expires_on"]
    confirm, data = _resign(client, "示范县新城街道和平路12号", extend="true")
    assert confirm.status_code == 200 and 'name="extend" value="true"' in confirm.text
    shown = re.search(expiry, confirm.text, re.DOTALL).group(1)
    assert shown == add_months(clerks.clock().astimezone().date(), 6).isoformat()
    assert shown > before["expires_on"]
    done = form_post(client, f"{CARD}/resign/confirm", data)
    assert done.status_code == 200 and 'id="done"' in done.text
    card = clerks.client.get(clerks.url(), headers=clerks.auth()).json()["residence"]
    assert (card["expires_on"], card["sequence"]) == (shown, 2)


def test_a_move_outside_the_sites_area_is_refused_on_the_form(clerks, as_clerk):
    from cardservice.engine.area import SiteArea

    _issued(clerks)
    clerks.runtime.engine.site_area = SiteArea.parse("示范县新城街道")
    client = as_clerk("operator")
    refused, _ = _resign(client, "示范县城关镇和平路3号")
    assert refused.status_code == 422 and 'id="confirm-form"' not in refused.text
    assert "居住地址不在本受理点辖区" in refused.text
    confirm, _ = _resign(client, "示范县新城街道和平路12号")
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.text
