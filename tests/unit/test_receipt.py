"""The application receipt PDF, read back with poppler (pdftotext, pdftoppm) and tesseract:
its text is the card face's glyph outlines (a name outside the BMP prints as on the card), with
an invisible text layer for search and copy."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image

from cardservice import errors
from cardservice.face import Face
from cardservice.face.layout import layout_path
from cardservice.workflow.model import Kind
from cardservice.workflow.receipt import PAGE, QR_MODULE, QR_ORIGIN, qr_matrix, render_receipt
from tests.face.ocr import found, ocr
from tests.workflow_fixtures import BOB, application

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


def _content(pdf: bytes) -> bytes:
    """The page's content stream (reportlab writes it ASCII85 over Flate)."""
    streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL)
    assert len(streams) == 1
    return zlib.decompress(base64.a85decode(streams[0].strip(), adobe=True))


def test_the_text_is_drawn_as_outlines_and_its_text_layer_is_invisible(pdf: Path) -> None:
    """Every text object is render mode 3 (invisible): what prints is the glyph outlines, so
    no viewer or printer needs a font for it."""
    content = _content(pdf.read_bytes())
    shown = [t for t in re.findall(rb"BT(.*?)ET", content, re.DOTALL) if re.search(rb"T[jJ]\b", t)]
    assert len(shown) == 17  # title, subtitle, 7 labels, 7 values, the footer
    assert all(b" 3 Tr" in text for text in shown)


@pytest.mark.parametrize("name", ["王𠀀明", "欧阳娜娜"])
def test_a_name_prints_as_on_the_card(tmp_path: Path, name: str) -> None:
    """The name row read back by OCR: a character of CJK Extension B (U+20000, which only the
    face's fallback font has) counts as any one or two characters, as in the face's own OCR."""
    app = application(identity={**BOB, "name": name}, id="A2026-000019")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(render_receipt(app))
    subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", str(path), str(tmp_path / "p")],
                   check=True)
    page = Image.open(next(tmp_path.glob("p*.png")))
    scale = 300 / 72
    top = 105 + 2 * 24  # the name row's baseline, points from the page's top
    crop = tmp_path / "name.png"
    page.crop((int(170 * scale), int((top - 14) * scale), int(380 * scale),
               int((top + 5) * scale))).save(crop)
    read = ocr(crop, lang="chi_sim", psm="7")
    assert found(name, read), read


def test_a_face_that_cannot_be_used_is_face_unavailable(tmp_path: Path) -> None:
    layout = json.loads(layout_path(None).read_text(encoding="utf-8"))
    layout["fonts"][0]["file"] = "NoSuchFont.ttc"
    (tmp_path / "face-layout.json").write_text(json.dumps(layout), encoding="utf-8")
    with pytest.raises(errors.FaceUnavailableError, match="NoSuchFont"):
        render_receipt(application(), face=Face(home=tmp_path))


def _read_pgm(path: Path) -> tuple[bytes, int]:
    data = path.read_bytes()
    parts = data.split(maxsplit=4)  # P5 width height maxval pixels
    assert parts[0] == b"P5"
    return parts[4], int(parts[1])
