"""Printing through a real CUPS: a private cupsd with a cups-pdf queue (tests/cups.py); the PDF
must land, one page per printed side. And what makes a print fail: PRINT_FAILED, retriable."""

from __future__ import annotations

import subprocess

import pytest

from cardservice import errors
from cardservice.face.printing import check_card, lp, print_card
from tests.cups import pdf_page_size, pdf_pages

from .conftest import vector_card
from .ocr import found, ocr


def _valid(name: str = "cjk_temporary") -> dict:
    card = vector_card(name)
    card["verification"] = {"status": "valid", "checks": []}
    return card


def test_both_sides_land_as_a_two_page_pdf_that_reads_back(face, cups_env, tmp_path):
    before = len(cups_env.pdfs())
    job = print_card(face, _valid(), "both", cups_env.queue)
    assert job.queue == cups_env.queue and job.sides == ("front", "back")
    assert job.job.startswith(f"{cups_env.queue}-")
    pdf = cups_env.wait_pdf(before)
    assert pdf_pages(pdf) == 2
    assert pdf_page_size(pdf) == pytest.approx((242.6, 153.0), abs=1.0)  # 85.60 x 53.98 mm
    subprocess.run(["pdftoppm", "-r", "300", "-f", "2", "-l", "2", "-png", str(pdf),
                    str(tmp_path / "printed")], check=True, timeout=60)
    text = ocr(next(tmp_path.glob("printed-*.png")))
    assert found("朝阳区公安分局测试受理点", text), text


def test_the_back_alone_is_one_page(face, cups_env):
    before = len(cups_env.pdfs())
    job = print_card(face, _valid("family_long_term"), "back", cups_env.queue)
    assert job.sides == ("back",)
    assert pdf_pages(cups_env.wait_pdf(before)) == 1


def test_a_queue_that_refuses_jobs_is_print_failed_and_retriable(face, cups_env):
    cups_env.reject()
    try:
        with pytest.raises(errors.PrintError) as caught:
            print_card(face, _valid(), "back", cups_env.queue)
    finally:
        cups_env.accept()
    assert caught.value.code == "PRINT_FAILED" and caught.value.retriable
    assert cups_env.queue in caught.value.message


def test_an_unknown_queue_is_print_failed(face, cups_env):
    with pytest.raises(errors.PrintError, match="no-such-queue"):
        print_card(face, _valid(), "both", "no-such-queue")


def test_lp_missing_is_print_failed(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(errors.PrintError, match="lp is not installed"):
        lp(b"%PDF-1.4", "queue", title="t")


def test_no_printer_configured_names_the_setting(face):
    with pytest.raises(errors.ValidationError) as caught:
        print_card(face, _valid(), "both", None)
    assert caught.value.field == "printer"
    with pytest.raises(errors.ValidationError):
        print_card(face, _valid(), "both", "bad queue; rm -rf /")


@pytest.mark.parametrize(("status", "registry", "error"), [
    ("invalid", None, errors.CardInvalidError),
    ("expired", None, errors.CardInvalidError),
    ("valid", "revoked", errors.CardRevokedError),
])
def test_only_a_valid_active_card_is_printed(face, status, registry, error):
    card = _valid()
    card["verification"]["status"] = status
    if registry:
        card["registry"] = {"status": registry}
    with pytest.raises(error):
        print_card(face, card, "both", "any-queue")


def test_an_expired_card_is_still_shown_but_a_blank_one_is_not():
    card = _valid()
    card["verification"]["status"] = "expired"
    check_card(card, printing=False)
    blank = {"card_serial": "00", "state": "blank", "identity": None, "residence": None}
    with pytest.raises(errors.NotPersonalizedError):
        check_card(blank, printing=False)


def test_a_produced_card_not_handed_over_yet_is_printed_a_revoked_one_not():
    card = _valid()
    card["registry"] = {"status": "produced"}
    check_card(card, printing=True)  # production prints it; `card print` repeats a failed print
    card["registry"] = {"status": "revoked"}
    with pytest.raises(errors.CardRevokedError):
        check_card(card, printing=True)
