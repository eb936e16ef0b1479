"""Fitting: the longest values the card format accepts fit their boxes (shrunk, then wrapped);
what fits at no size, or has no glyph in any font, is refused with the field's name."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cardservice.face import FitError
from cardservice.face.content import texts_from_card
from cardservice.face.fit import fit_text
from cardservice.face.layout import MM_PER_PT

from .conftest import vector_card

#: The national ID card's character counts (name 15, addresses 35, authority 15), in the widest
#: characters there are: full-width CJK ideographs, 1 em each (with the fallback font's Ext B).
LONGEST = {
    "name": "欧阳𠀀龘龘龘龘龘龘龘龘龘龘龘龘",
    "household_address": "新疆维吾尔自治区伊犁哈萨克自治州霍尔果斯市亚欧路龘龘龘龘龘龘龘龘龘龘龘",
    "current_residence": "内蒙古自治区呼伦贝尔市鄂温克族自治旗巴彦托海镇龘龘龘龘龘龘龘龘龘龘龘龘",
    "issuing_authority": "𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾𠀾",
}


def longest_card() -> dict:
    card = vector_card("cjk_temporary")
    for field in ("name", "household_address"):
        card["identity"][field] = LONGEST[field]
    for field in ("current_residence", "issuing_authority"):
        card["residence"][field] = LONGEST[field]
    return card


def test_longest_values_have_the_id_card_lengths():
    assert [len(LONGEST[f]) for f in LONGEST] == [15, 35, 35, 15]


@pytest.mark.parametrize("side", ["front", "back"])
def test_longest_values_fit_inside_their_boxes(face, side):
    card = longest_card()
    spec = face.layout.sides[side]
    for field, fitted in face.fitted(card, side).items():
        box = spec.fields[field].box
        size_mm = fitted.size * MM_PER_PT
        assert spec.fields[field].min_size <= fitted.size <= spec.fields[field].size
        for line in fitted.lines:
            assert sum(g.advance for g in line) * size_mm <= box.w + 1e-6, field
        height = size_mm + (len(fitted.lines) - 1) * fitted.line_pitch_mm
        assert height <= box.h + 1e-6, field
        shown = texts_from_card(face.layout, card)[side][field]
        assert "".join(fitted.texts).replace(" ", "") == shown.replace(" ", "")


def test_longest_name_shrinks_to_one_line_and_address_wraps(face):
    fitted = face.fitted(longest_card(), "front")
    assert len(fitted["name"].lines) == 1 and fitted["name"].size < 11
    assert len(fitted["household_address"].lines) == 3
    assert fitted["household_address"].size == 9  # wraps at the layout's size first


def test_longest_values_render_png_and_pdf(face):
    card = longest_card()
    png = face.render(card, "front", "png")
    assert Image.open(io.BytesIO(png)).size == (1011, 638)
    both = Image.open(io.BytesIO(face.render(card, "both", "png")))
    assert both.width == 1011 and both.height > 2 * 638
    pdf = face.render(card, "both", "pdf")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2


def test_a_name_that_fits_at_no_size_is_refused_naming_the_field(face):
    card = vector_card("cjk_temporary")
    card["identity"]["name"] = "W" * 60  # 60 bytes: accepted by the card format
    with pytest.raises(FitError) as caught:
        face.fitted(card, "front")
    assert caught.value.field == "name" and caught.value.reason == "does_not_fit"


def test_a_character_no_font_has_is_refused(face):
    card = vector_card("cjk_temporary")
    card["residence"]["current_residence"] = "北京市\U0003134A路1号"  # CJK Ext. G
    with pytest.raises(FitError) as caught:
        face.fitted(card, "back")
    assert caught.value.field == "current_residence" and caught.value.reason == "no_glyph"
    assert "U+3134A" in caught.value.message


def test_wrapping_keeps_digit_runs_and_does_not_start_a_line_with_a_comma(face):
    spec = face.layout.sides["back"].fields["current_residence"]
    text = "北京市朝阳区建国路1201号院" * 2 + "甲乙丙丁，戊己"
    fitted = fit_text(face.chain, spec, text, line_spacing=1.25, step=0.5)
    for line in fitted.texts:
        assert not line.startswith("，")
    joined = "|".join(fitted.texts)
    assert "12|01" not in joined and "120|1" not in joined and "1|201" not in joined


# --- showing what this layout cannot print (a card written under another layout) -------------


def test_lenient_fitting_cuts_text_that_fits_at_no_size_with_an_ellipsis(face):
    card = vector_card("cjk_temporary")
    card["identity"]["name"] = "W" * 60
    fitted = face.fitted(card, "front", lenient=True)["name"]
    spec = face.layout.sides["front"].fields["name"]
    assert fitted.problems == ("does_not_fit",) and fitted.size == spec.min_size
    size_mm = fitted.size * MM_PER_PT
    assert size_mm + (len(fitted.lines) - 1) * fitted.line_pitch_mm <= spec.box.h + 1e-6
    for line in fitted.lines:
        assert sum(g.advance for g in line) * size_mm <= spec.box.w + 1e-6
    shown = "".join(fitted.texts)
    assert shown.endswith("\u2026") and set(shown[:-1]) == {"W"} and len(shown) < 60
    assert all(p == () for f, p in ((f, x.problems) for f, x in
                                    face.fitted(card, "front", lenient=True).items())
               if f != "name")


def test_lenient_fitting_draws_a_missing_glyph_box_for_a_character_no_font_has(face):
    spec = face.layout.sides["back"].fields["current_residence"]
    fitted = fit_text(face.chain, spec, "北京市\U0003134A路1号", line_spacing=1.25, step=0.5,
                      lenient=True)
    assert fitted.problems == ("no_glyph",) and fitted.texts == ("北京市\U0003134A路1号",)
    box = fitted.lines[0][3]
    assert (box.font, box.glyph_id, box.advance) == (0, 0, 1.0)


def test_strict_fitting_is_unchanged_and_a_fitting_text_has_no_problem(face):
    card = vector_card("cjk_temporary")
    assert face.problems(card, "both") == []
    assert all(f.problems == () for f in face.fitted(card, "back").values())
    card["identity"]["name"] = "W" * 60
    with pytest.raises(FitError):
        face.render(card, "front", "png")


def test_problems_name_each_field_and_reason_and_the_face_is_drawn(face):
    card = vector_card("cjk_temporary")
    card["identity"]["name"] = "W" * 60
    card["residence"]["current_residence"] = "北京市\U0003134A路" + "龘" * 150
    assert face.problems(card, "both") == [
        ("identity.name", "does_not_fit"),
        ("residence.current_residence", "no_glyph"),
        ("residence.current_residence", "does_not_fit")]
    assert face.problems(card, "front") == [("identity.name", "does_not_fit")]
    png = face.render(card, "both", "png", lenient=True)
    assert Image.open(io.BytesIO(png)).size[0] == 1011
    assert face.render(card, "back", "pdf", lenient=True).startswith(b"%PDF")
