"""What was printed is what the chip says: the faces of the published vectors, read back with
OCR (tesseract, see ocr.py), show every field's text on its side, at its place."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import VECTOR_NAMES, vector_card
from .ocr import found, ocr, unread_lines


@pytest.mark.parametrize("name", VECTOR_NAMES)
@pytest.mark.parametrize("side", ["front", "back"])
def test_every_field_is_read_back_from_its_side(face, tmp_path, name, side):
    card = vector_card(name)
    image = tmp_path / f"{name}-{side}.png"
    image.write_bytes(face.render(card, side, "png"))
    assert unread_lines(face, card, side, image) == []


def test_the_pdf_reads_back_like_the_png(face, tmp_path):
    card = vector_card("family_long_term")
    pdf = tmp_path / "both.pdf"
    pdf.write_bytes(face.render(card, "both", "pdf"))
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    for side, page in zip(("front", "back"), pages, strict=True):
        assert unread_lines(face, card, side, page) == []


def test_a_side_does_not_show_the_other_sides_fields(face, tmp_path):
    card = vector_card("cjk_temporary")
    for side, absent in (("back", card["identity"]["citizen_number"]),
                         ("front", card["residence"]["issuing_authority"])):
        image = tmp_path / f"{side}.png"
        image.write_bytes(face.render(card, side, "png"))
        text = ocr(image)
        assert text.strip() and not found(absent, text)
