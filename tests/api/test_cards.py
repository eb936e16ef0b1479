"""Card routes over the simulated readers: read, issue, re-sign, renew, and their errors."""

from __future__ import annotations

from cardservice.transport.readers import reader_id

from .conftest import ALICE, BOB, READER_A, READER_B, SERIAL_A, SERIAL_B, issue_body


def test_readers_lists_both_with_stable_ids(daemon):
    r = daemon.client.get("/v1/readers", headers=daemon.auth("reader"))
    assert r.status_code == 200
    by_name = {x["name"]: x for x in r.json()}
    assert set(by_name) == {READER_A, READER_B}
    assert by_name[READER_A]["id"] == reader_id(READER_A)
    assert by_name[READER_A]["card_present"] is True
    assert by_name[READER_A]["atr_hex"] == daemon.backend.slots[READER_A].atr.hex()


def test_read_blank_card(daemon):
    r = daemon.client.get(daemon.url(), headers=daemon.auth("reader"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["card_serial"] == SERIAL_A
    assert body["state"] == "blank"
    assert body["identity"] is None and body["residence"] is None
    assert body["verification"]["status"] == "blank"


def test_issue_then_read_back(daemon):
    r = daemon.issue()
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["state"] == "personalized"
    assert card["identity"]["citizen_number"] == ALICE["citizen_number"]
    assert card["identity"]["birth_date"] == "1949-12-31"
    assert card["residence"]["sequence"] == 1
    assert card["verification"]["status"] == "valid"
    again = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    assert again["identity"] == card["identity"]
    assert again["residence"] == card["residence"]


def test_resign_changes_residence_and_sequence(daemon):
    daemon.issue()
    r = daemon.client.post(daemon.url(action="resign"), headers=daemon.auth(),
                           json={"current_residence": "示范县新区2号", "card_serial": SERIAL_A})
    assert r.status_code == 200, r.text
    res = r.json()["residence"]
    assert res["current_residence"] == "示范县新区2号"
    assert res["sequence"] == 2
    assert r.json()["registry"]["last_sequence"] == 2


def test_renew_to_long_term(daemon):
    daemon.issue()
    r = daemon.client.post(daemon.url(action="renew"), headers=daemon.auth(),
                           json={"permit_type": "long_term", "basis": 2, "card_serial": SERIAL_A,
                                 "evidence": {"kind": "labour_contract", "reference": "L-1"}})
    assert r.status_code == 200, r.text
    res = r.json()["residence"]
    assert res["permit_type"] == "long_term" and res["basis"] == 2
    assert res["current_residence"] == "示范县城关镇幸福路1号"


def test_resign_other_card_serial_is_card_changed(daemon):
    daemon.issue()
    r = daemon.client.post(daemon.url(action="resign"), headers=daemon.auth(),
                           json={"current_residence": "x", "card_serial": SERIAL_B})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CARD_CHANGED"
    assert r.json()["error"]["retriable"] is True


def test_issue_twice_is_already_personalized(daemon):
    daemon.issue()
    r = daemon.issue()
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ALREADY_PERSONALIZED"


def test_second_card_for_citizen_is_refused(daemon):
    assert daemon.issue(READER_A).status_code == 200
    r = daemon.issue(READER_B)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CITIZEN_HAS_CARD"


def test_resign_blank_card_is_not_personalized(daemon):
    r = daemon.client.post(daemon.url(action="resign"), headers=daemon.auth(),
                           json={"current_residence": "x", "card_serial": SERIAL_A})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "NOT_PERSONALIZED"


def test_bad_citizen_number_names_the_field(daemon):
    bad = {**BOB, "citizen_number": "110105199001011233"}
    r = daemon.issue(body=issue_body(bad))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR"
    assert err["field"] == "identity.citizen_number"


def test_too_long_name_names_the_field(daemon):
    r = daemon.issue(body=issue_body({**ALICE, "name": "张" * 200}))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "identity.name"


def test_missing_field_is_validation_error(daemon):
    r = daemon.client.post(daemon.url(action="issue"), headers=daemon.auth(),
                           json={"identity": ALICE})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR" and err["field"] == "residence"


def test_long_term_without_basis_names_the_rule(daemon):
    r = daemon.issue(body=issue_body(permit_type="long_term"))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "POLICY_VIOLATION"
    assert err["rule"]


def test_expiry_in_the_past_is_policy_violation(daemon):
    r = daemon.issue(body=issue_body(expires_on="2020-01-01"))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "POLICY_VIOLATION"


def test_unknown_reader_is_404(daemon):
    r = daemon.client.get("/v1/readers/nope-00000000/card", headers=daemon.auth("reader"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "READER_NOT_FOUND"


def test_empty_reader_is_no_card(daemon):
    daemon.backend.pull(READER_B)
    r = daemon.client.get(daemon.url(READER_B), headers=daemon.auth("reader"))
    assert r.status_code == 409
    assert r.json()["error"] == {"code": "NO_CARD", "message": r.json()["error"]["message"],
                                 "retriable": True}


def test_card_pulled_mid_write_is_card_removed(daemon):
    daemon.issue()
    daemon.backend.slots[READER_A].faults.pull()
    r = daemon.client.post(daemon.url(action="resign"), headers=daemon.auth(),
                           json={"current_residence": "示范县新区2号", "card_serial": SERIAL_A})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CARD_REMOVED"


def test_read_answers_exactly_the_card_model(daemon):
    """GET .../card skips FastAPI's response validation: what it sends must still be the Card
    model, field for field, for a blank and for a personalized card."""
    from cardservice.api.models import Card

    for step in ("blank", "personalized"):
        if step == "personalized":
            assert daemon.issue().status_code == 200
        body = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
        assert Card.model_validate(body).model_dump(mode="json") == body, step
