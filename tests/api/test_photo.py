"""The holder's photo over the API: issue with identity.photo (base64 JPEG), read with
?photo=true, clear VALIDATION_ERRORs for a bad photo (nothing written), intake rules of
issue 11 point 7, and the chip checks in every read."""

from __future__ import annotations

import base64
import hashlib

import pytest

from card_layout import citizen
from card_layout.jpeg_sample import flat_jpeg

from .conftest import ALICE, BOB, issue_body

PHOTO = flat_jpeg(102, 126, 77)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_issue_with_photo_and_read_it_on_request(daemon):
    r = daemon.issue(body=issue_body({**ALICE, "photo": b64(PHOTO)}))
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["photo_sha256"] == hashlib.sha256(PHOTO).hexdigest()
    plain = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    assert plain["identity"]["photo"] is None
    assert plain["verification"]["status"] == "valid"
    checks = {c["check"]: (c["result"], c["reason"]) for c in plain["verification"]["checks"]}
    assert checks["chip_authentic"] == ("succeeded", "ok")
    assert checks["card_counter"] == ("succeeded", "ok")
    full = daemon.client.get(daemon.url() + "?photo=true", headers=daemon.auth("reader")).json()
    assert base64.b64decode(full["identity"]["photo"]) == PHOTO


@pytest.mark.parametrize(("photo", "reason"), [
    ("not base64!", "bad_format"),
    (b64(b"\x89PNG\r\n\x1a\n" + bytes(64)), "bad_format"),
    (b64(flat_jpeg(102, 126, comment=b"x" * 4000)), "too_long"),
    (b64(flat_jpeg(30, 30)), "out_of_range"),
    ("", "empty"),
])
def test_bad_photo_refused_before_any_write(daemon, photo, reason):
    r = daemon.issue(body=issue_body({**ALICE, "photo": photo}))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "identity.photo")
    assert error["reason"] == reason
    assert daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()["state"] \
        == "blank"


def test_future_birth_date_refused(daemon):
    first17 = "110105" + "20990101" + "123"
    body = issue_body({**BOB, "citizen_number": first17 + citizen.check_digit(first17)})
    r = daemon.issue(body=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["field"], error["reason"]) == ("identity.citizen_number", "bad_birth_date")


@pytest.mark.parametrize("name", ["\u3164", "\u3164\u3164", "张\ufe0f", "\ue000", "张\ufffe"])
def test_invisible_or_unassigned_name_refused(daemon, name):
    r = daemon.issue(body=issue_body({**ALICE, "name": name}))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "identity.name"


def test_sponsor_with_bad_check_digit_is_a_validation_error(daemon):
    r = daemon.issue(body=issue_body(permit_type="long_term",
                                     sponsor_citizen_number="110105194912310021"))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "sponsor_citizen_number")
