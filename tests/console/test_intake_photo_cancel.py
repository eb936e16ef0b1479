"""The intake form's photo (multipart upload, checked with the API's reasons, shown back, kept
over another field's error, capped and read only for a live session) and cancelling an
application after a confirmation page."""

from __future__ import annotations

import base64

import pytest

from card_layout.jpeg_sample import flat_jpeg

from .conftest import csrf_of, form_post
from .test_applications import APPS, INTAKE, _status, _submit, _submitted_id

PHOTO = flat_jpeg(102, 126, 77)


def _upload(client, photo: bytes | None, **changes: str):
    page = client.get(f"{APPS}/new")
    assert 'enctype="multipart/form-data"' in page.text and 'id="f-photo"' in page.text
    files = {"photo": ("photo.jpg", photo or b"", "image/jpeg")}
    return client.post(f"{APPS}/new", data={"csrf": csrf_of(page.text), **INTAKE, **changes},
                       files=files, follow_redirects=False)


def test_photo_taken_at_intake_is_shown_back_and_kept_for_production(clerks, as_clerk):
    operator = as_clerk("operator")
    app_id = _submitted_id(_upload(operator, PHOTO))
    detail = operator.get(f"{APPS}/{app_id}").text
    assert f'src="{APPS}/{app_id}/photo.jpg"' in detail
    served = operator.get(f"{APPS}/{app_id}/photo.jpg")
    assert served.headers["content-type"] == "image/jpeg" and served.content == PHOTO
    stored = clerks.client.get(f"/v1/applications/{app_id}", headers=clerks.auth()).json()
    assert base64.b64decode(stored["photo"]) == PHOTO  # what production writes to the chip


@pytest.mark.parametrize(("photo", "reason", "message"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "bad_format", "照片（JPEG）：格式不对"),
    (flat_jpeg(102, 126, comment=b"x" * 4000), "too_long", "照片（JPEG）：太长了"),
    (flat_jpeg(30, 30), "out_of_range", "照片（JPEG）：超出允许范围"),
])
def test_bad_photo_gets_the_apis_reason_on_its_field(clerks, as_clerk, photo, reason, message):
    page = _upload(as_clerk("operator"), photo)
    assert page.status_code == 422
    assert 'id="e-photo"' in page.text and message in page.text
    assert 'aria-invalid="true" autofocus' in page.text
    assert clerks.client.get("/v1/applications", headers=clerks.auth()).json() == []


def test_photo_is_kept_when_another_field_is_wrong(clerks, as_clerk):
    operator = as_clerk("operator")
    page = _upload(operator, PHOTO, name="")
    assert page.status_code == 422 and 'id="e-name"' in page.text
    kept = base64.b64encode(PHOTO).decode()
    assert f'name="photo_kept" value="{kept}"' in page.text
    assert f'src="data:image/jpeg;base64,{kept}"' in page.text
    again = operator.post(f"{APPS}/new", data={"csrf": csrf_of(page.text), **INTAKE,
                                               "photo_kept": kept},
                          files={"photo": ("", b"", "application/octet-stream")})
    app_id = _submitted_id(again)
    assert operator.get(f"{APPS}/{app_id}/photo.jpg").content == PHOTO


def test_upload_body_is_capped_and_needs_a_session(clerks, as_clerk):
    operator = as_clerk("operator")
    csrf = csrf_of(operator.get(f"{APPS}/new").text)
    big = operator.post(f"{APPS}/new", data={"csrf": csrf, **INTAKE},
                        files={"photo": ("p.jpg", bytes(1024 * 1024 + 1), "image/jpeg")})
    assert big.status_code == 413  # the API's photo cap
    forged = operator.post(f"{APPS}/new", data={"csrf": "forged", **INTAKE},
                           files={"photo": ("p.jpg", PHOTO, "image/jpeg")})
    assert forged.status_code == 403
    elsewhere = operator.post("/console/logout", data={"csrf": csrf},
                              files={"photo": ("p.jpg", PHOTO, "image/jpeg")})
    assert elsewhere.status_code == 415  # multipart only where a form carries a file
    clerks.client.cookies.clear()
    anonymous = clerks.client.post(f"{APPS}/new", data={"csrf": "x", **INTAKE},
                                   files={"photo": ("p.jpg", PHOTO, "image/jpeg")})
    assert anonymous.status_code == 401  # the body is not read without a session
    json_api = clerks.client.post("/v1/applications", headers=clerks.auth("operator"),
                                  files={"photo": ("p.jpg", PHOTO, "image/jpeg")})
    assert json_api.status_code == 415  # multipart stays refused on the API


def test_cancel_asks_first_then_cancels_with_the_clerk_as_actor(clerks, as_clerk):
    operator = as_clerk("operator")
    app_id = _submitted_id(_submit(operator))
    detail = operator.get(f"{APPS}/{app_id}").text
    assert f'href="{APPS}/{app_id}/cancel" id="cancel-application"' in detail
    confirm = operator.get(f"{APPS}/{app_id}/cancel")
    assert confirm.status_code == 200 and 'id="cancel-warning"' in confirm.text
    assert _status(clerks, app_id) == "submitted"  # asking changes nothing
    done = form_post(operator, f"{APPS}/{app_id}/cancel",
                     {"csrf": csrf_of(confirm.text), "reason": "申请人撤回"})
    assert done.status_code == 200 and f"申请 {app_id} 已撤销。" in done.text
    assert 'id="cancel-application"' not in done.text
    assert _status(clerks, app_id) == "cancelled"
    entries = clerks.client.get("/v1/audit", headers=clerks.auth("admin")).json()
    assert {"application.cancel": "clerk:operator-clerk"}.items() <= {
        e["operation"]: e["actor"] for e in entries}.items()
    again = form_post(operator, f"{APPS}/{app_id}/cancel", {"csrf": csrf_of(done.text)})
    assert again.status_code == 409 and 'id="form-error"' in again.text


def test_cancel_needs_an_operator_and_its_csrf_token(clerks, as_clerk):
    operator, reader = as_clerk("operator"), as_clerk("reader")
    app_id = _submitted_id(_submit(operator))
    assert 'id="cancel-application"' not in reader.get(f"{APPS}/{app_id}").text
    assert reader.get(f"{APPS}/{app_id}/cancel").status_code == 403
    refused = form_post(reader, f"{APPS}/{app_id}/cancel",
                        {"csrf": csrf_of(reader.get(f"{APPS}/{app_id}").text)})
    assert refused.status_code == 403
    assert form_post(operator, f"{APPS}/{app_id}/cancel", {"csrf": "forged"}).status_code == 403
    assert _status(clerks, app_id) == "submitted"
