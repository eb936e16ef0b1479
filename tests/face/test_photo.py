"""The photo box: a JPEG fills it (scaled and cropped to the box), no photo draws the placeholder,
bytes that are no image are a VALIDATION_ERROR on the field photo."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cardservice import errors
from cardservice.face.printing import render
from cardservice.face.render import PX_PER_MM

from .conftest import vector_card

RED = (200, 30, 30)


def _jpeg(size=(102, 126), colour=RED) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def _centre_of_photo_box(face, png: bytes) -> tuple[int, int, int]:
    box = face.layout.sides["front"].photo
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getpixel((round((box.x + box.w / 4) * PX_PER_MM),
                           round((box.y + box.h / 4) * PX_PER_MM)))


def test_a_photo_fills_its_box_in_png_and_pdf(face):
    card = vector_card("cjk_temporary")
    pixel = _centre_of_photo_box(face, face.render(card, "front", "png", photo=_jpeg()))
    assert all(abs(a - b) < 20 for a, b in zip(pixel, RED, strict=True)), pixel
    pdf = face.render(card, "front", "pdf", photo=_jpeg())
    assert b"/Subtype /Image" in pdf


def test_without_a_photo_the_box_is_the_placeholder(face):
    pixel = _centre_of_photo_box(face, face.render(vector_card("cjk_temporary"), "front", "png"))
    assert pixel == (236, 236, 236)


def test_bytes_that_are_no_image_are_refused_on_the_field_photo(face):
    with pytest.raises(errors.ValidationError) as caught:
        render(face, vector_card("cjk_temporary"), "front", "png", b"\xff\xd8 not a jpeg")
    assert caught.value.field == "photo"


def test_the_cards_own_photo_is_used_when_the_read_carried_it(face):
    import base64

    card = vector_card("cjk_temporary")
    card["identity"]["photo"] = base64.b64encode(_jpeg()).decode()
    pixel = _centre_of_photo_box(face, face.render(card, "front", "png"))
    assert all(abs(a - b) < 20 for a, b in zip(pixel, RED, strict=True)), pixel
