"""The application receipt PDF, read back with poppler (pdftotext, pdftoppm)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from cardservice.workflow.model import Kind
from cardservice.workflow.receipt import PAGE, QR_MODULE, QR_ORIGIN, qr_matrix, render_receipt
from tests.workflow_fixtures import application

DPI = 144


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    app = application(id="A2026-000017")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(render_receipt(app, site_name="示范县城关镇受理点"))
    return path


def test_receipt_text(pdf: Path) -> None:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    for expected in ("居住证申领受理回执", "A2026-000017", "李四", "110105********1232",
                     "示范县城关镇受理点", "2026-11-30", "2026-12-07", "首次申领"):
        assert expected in text, expected
    assert "110105199001011232" not in text  # the full number never prints
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    assert "Pages:           1" in info and "419.528 x 595.276 pts" in info  # A5


def test_receipt_qr_code_holds_the_application_number(pdf: Path, tmp_path: Path) -> None:
    """Render the page and read every QR module back from the pixels."""
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", str(pdf), str(tmp_path / "page")],
                   check=True)
    pixels, width = _read_pgm(next(tmp_path.glob("page*.pgm")))
    scale = DPI / 72
    expected = qr_matrix("A2026-000017")
    seen = []
    for r in range(len(expected)):
        row = []
        for c in range(len(expected)):
            x = int((QR_ORIGIN[0] + (c + 0.5) * QR_MODULE) * scale)
            y = int((QR_ORIGIN[1] + (r + 0.5) * QR_MODULE) * scale)
            row.append(pixels[y * width + x] < 128)
        seen.append(row)
    assert seen == expected
    assert len(expected) >= 21 and sum(map(sum, expected)) > 100


def test_provisional_due_date_is_marked(tmp_path: Path) -> None:
    app = dataclasses.replace(application(Kind.FAMILY), due_on_provisional=True)
    path = tmp_path / "r.pdf"
    path.write_bytes(render_receipt(app))
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "provisional" in text and "随迁家属" in text
    assert PAGE[0] < PAGE[1]


def _read_pgm(path: Path) -> tuple[bytes, int]:
    data = path.read_bytes()
    parts = data.split(maxsplit=4)  # P5 width height maxval pixels
    assert parts[0] == b"P5"
    return parts[4], int(parts[1])
