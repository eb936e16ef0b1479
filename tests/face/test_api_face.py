"""The face over the API: face.png / face.pdf of the card in a reader, the reprint after a write
(both sides after an issue, only the back after a re-sign or renewal) through a real CUPS queue,
and POST .../card/print repeating a failed print without touching the chip."""

from __future__ import annotations

import base64
import io
import subprocess

import pytest
from PIL import Image

from cardservice import errors
from cardservice.face.printing import print_card
from cardservice.face.render import PX_PER_MM
from tests.api.conftest import SERIAL_A, issue_body, running_daemon
from tests.cups import pdf_pages
from tests.face_layouts import EXT_B_NAME, without_fallback_font

from .ocr import found, ocr


def test_face_png_and_pdf_of_an_issued_card(daemon):
    assert daemon.issue().status_code == 200
    for side in ("front", "back"):
        r = daemon.client.get(daemon.url(action="face.png"), params={"side": side},
                              headers=daemon.auth("reader"))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(r.content)).size == (1011, 638)
    r = daemon.client.get(daemon.url(action="face.pdf"), headers=daemon.auth("reader"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")


def test_face_of_a_blank_card_is_not_personalized(daemon):
    r = daemon.client.get(daemon.url(action="face.png"), headers=daemon.auth("reader"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "NOT_PERSONALIZED"


def test_face_side_is_checked_and_a_token_is_needed(daemon):
    daemon.issue()
    r = daemon.client.get(daemon.url(action="face.png"), params={"side": "both"},
                          headers=daemon.auth("reader"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "side"
    assert daemon.client.get(daemon.url(action="face.png")).status_code == 401


def test_no_print_without_a_printer(daemon):
    card = daemon.issue().json()
    assert card["print"] is None
    r = daemon.client.post(daemon.url(action="print"), json={}, headers=daemon.auth())
    assert r.status_code == 422 and r.json()["error"]["field"] == "printer"


@pytest.fixture
def printing(home, backend, cups_env):
    """A daemon whose printer is the private CUPS queue."""
    for daemon in running_daemon(home, backend, printer=cups_env.queue):
        yield daemon, cups_env


def _page_text(pdf, page: int, tmp_path) -> str:
    prefix = f"{pdf.stem}-p{page}"
    subprocess.run(["pdftoppm", "-r", "300", "-f", str(page), "-l", str(page), "-png", str(pdf),
                    str(tmp_path / prefix)], check=True, timeout=60)
    return ocr(next(tmp_path.glob(f"{prefix}-*.png")))


def test_issue_prints_both_sides_and_resign_only_the_back(printing, tmp_path):
    daemon, cups = printing
    before = len(cups.pdfs())
    issued = daemon.issue().json()
    assert issued["print"]["status"] == "printed", issued["print"]
    assert issued["print"]["sides"] == ["front", "back"]
    first = cups.wait_pdf(before)
    assert pdf_pages(first) == 2
    assert found(issue_body()["identity"]["citizen_number"], _page_text(first, 1, tmp_path))

    moved = daemon.client.post(daemon.url(action="resign"), headers=daemon.auth(), json={
        "current_residence": "示范县新城街道和平路12号", "card_serial": SERIAL_A}).json()
    assert moved["print"]["status"] == "printed" and moved["print"]["sides"] == ["back"]
    back = cups.wait_pdf(before + 1)
    assert pdf_pages(back) == 1
    text = _page_text(back, 1, tmp_path)
    assert found("示范县新城街道和平路12号", text), text
    assert not found(issue_body()["identity"]["citizen_number"], text)

    renewed = daemon.client.post(daemon.url(action="renew"), headers=daemon.auth(),
                                 json={"card_serial": SERIAL_A}).json()
    assert renewed["print"]["sides"] == ["back"]
    assert pdf_pages(cups.wait_pdf(before + 2)) == 1


def test_a_failed_print_is_reported_and_repeated_without_touching_the_chip(printing):
    daemon, cups = printing
    cups.reject()
    try:
        issued = daemon.issue()
    finally:
        cups.accept()
    assert issued.status_code == 200  # the chip write stands
    report = issued.json()["print"]
    assert report["status"] == "failed" and report["job"] is None
    assert report["error"]["code"] == "PRINT_FAILED" and report["error"]["retriable"] is True
    assert issued.json()["verification"]["status"] == "valid"

    audit_before = daemon.runtime.audit().count()
    row_before = daemon.runtime.registry().get(SERIAL_A)
    before = len(cups.pdfs())
    r = daemon.client.post(daemon.url(action="print"), headers=daemon.auth(),
                           json={"side": "both", "card_serial": SERIAL_A})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "printed" and r.json()["sides"] == ["front", "back"]
    assert pdf_pages(cups.wait_pdf(before)) == 2
    assert daemon.runtime.audit().count() == audit_before
    assert daemon.runtime.registry().get(SERIAL_A) == row_before


def test_print_refuses_another_card_and_reports_print_failed_as_502(printing):
    daemon, cups = printing
    daemon.issue()
    r = daemon.client.post(daemon.url(action="print"), headers=daemon.auth(),
                           json={"card_serial": "ffffffffffffffff"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "CARD_CHANGED"
    cups.reject()
    try:
        r = daemon.client.post(daemon.url(action="print"), headers=daemon.auth(), json={})
    finally:
        cups.accept()
    assert r.status_code == 502
    assert r.json()["error"] == {**r.json()["error"], "code": "PRINT_FAILED", "retriable": True}
    reader = daemon.client.post(daemon.url(action="print"), headers=daemon.auth("reader"),
                                json={})
    assert reader.status_code == 403


def _jpeg_b64(colour=(200, 30, 30)) -> str:
    out = io.BytesIO()
    Image.new("RGB", (102, 126), colour).save(out, "JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode()


def test_the_face_shows_the_photo_bound_into_the_card(daemon):
    body = issue_body({**issue_body()["identity"], "photo": _jpeg_b64()})
    assert daemon.issue(body=body).status_code == 200
    r = daemon.client.get(daemon.url(action="face.png"), headers=daemon.auth("reader"))
    assert r.status_code == 200
    box = daemon.runtime.engine.face.layout.sides["front"].photo
    image = Image.open(io.BytesIO(r.content)).convert("RGB")
    pixel = image.getpixel((round((box.x + box.w / 4) * PX_PER_MM),
                            round((box.y + box.h / 4) * PX_PER_MM)))
    assert all(abs(a - b) < 25 for a, b in zip(pixel, (200, 30, 30), strict=True)), pixel


def test_a_card_this_site_cannot_print_is_shown_with_its_fields_named(daemon, tmp_path):
    """A card written where the face had the fallback font, read at a site whose face has not
    (another county's layout): shown, the name's character as a missing-glyph box and the field
    named in X-Face-Problems; printing it is refused."""
    body = issue_body({**issue_body()["identity"], "name": EXT_B_NAME})
    assert daemon.issue(body=body).status_code == 200
    here = daemon.client.get(daemon.url(action="face.png"), headers=daemon.auth("reader"))
    assert here.status_code == 200 and "x-face-problems" not in here.headers
    daemon.runtime.engine.face = without_fallback_font(tmp_path / "other-site")
    there = daemon.client.get(daemon.url(action="face.png"), headers=daemon.auth("reader"))
    assert there.status_code == 200, there.text
    assert there.headers["x-face-problems"] == "identity.name=no_glyph"
    assert Image.open(io.BytesIO(there.content)).size == (1011, 638)
    assert there.content != here.content  # the box instead of the character
    pdf = daemon.client.get(daemon.url(action="face.pdf"), headers=daemon.auth("reader"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["x-face-problems"] == "identity.name=no_glyph"
    back = daemon.client.get(daemon.url(action="face.png"), params={"side": "back"},
                             headers=daemon.auth("reader"))
    assert back.status_code == 200 and "x-face-problems" not in back.headers
    card = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    with pytest.raises(errors.ValidationError) as refused:
        print_card(daemon.runtime.engine.face, card, "front", "queue")
    assert (refused.value.field, refused.value.reason) == ("name", "no_glyph")
