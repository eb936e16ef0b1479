"""The fit check measures text with a compact metrics table instead of whole fonts: its
characters, advances and glyph ids are fontTools' for every code point of the layout's fonts,
FreeType draws the same advances, and every fit verdict equals one taken with the fonts fully
loaded."""

from __future__ import annotations

import functools
import struct

import pytest
from fontTools.ttLib import TTFont
from fontTools.ttLib.sfnt import SFNTReader
from PIL import ImageFont

from cardservice.face import FitError
from cardservice.face.fit import fit_text
from cardservice.face.fonts import FontChain, Glyph
from cardservice.face.layout import MM_PER_PT
from cardservice.face.metrics import _subtable, read_metrics

from .test_fit import LONGEST


class FullFontChain(FontChain):
    """The measure as it was: each font opened whole by fontTools (getBestCmap and hmtx)."""

    def __init__(self, paths) -> None:
        super().__init__(paths)
        self._full = [_full_metrics(*p) for p in paths]

    def glyph(self, char: str) -> Glyph | None:
        for i, (advances, glyph_ids, upm) in enumerate(self._full):
            if ord(char) in advances:
                return Glyph(char, i, advances[ord(char)] / upm, glyph_ids[ord(char)])
        return None


def _full_metrics(path, index) -> tuple[dict[int, int], dict[int, int], int]:
    """(advance and glyph id by code point, units per em), fontTools' getBestCmap and hmtx."""
    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        hmtx, best = font["hmtx"], font.getBestCmap()
        return ({c: hmtx[n][0] for c, n in best.items()},
                {c: font.getGlyphID(n) for c, n in best.items()}, font["head"].unitsPerEm)
    finally:
        font.close()


@pytest.fixture(scope="module")
def full_chain(face) -> FullFontChain:
    return FullFontChain(face.chain.paths)


def test_every_character_advance_and_glyph_id_is_fonttools(face, full_chain):
    for i, (path, index) in enumerate(face.chain.paths):
        metrics = read_metrics(path, index)
        advances, glyph_ids, upm = full_chain._full[i]
        assert dict(metrics.items()) == advances, path
        assert dict(metrics.glyph_ids()) == glyph_ids, path  # what the PDF draws
        assert metrics.upm == upm and len(metrics) > 1000


def test_the_bmp_subtable_format_4_reads_as_fonttools_reads_it(face):
    path, index = face.chain.paths[0]
    with open(path, "rb") as file:
        data = SFNTReader(file, fontNumber=index)["cmap"]
    records = [struct.unpack_from(">HHI", data, 4 + 8 * k)
               for k in range(struct.unpack_from(">H", data, 2)[0])]
    offset = next(o for p, e, o in records if (p, e) == (3, 1))
    font = TTFont(str(path), fontNumber=index, lazy=True)
    expected = {c: font.getGlyphID(n) for c, n in font["cmap"].getcmap(3, 1).cmap.items()}
    assert struct.unpack_from(">H", data, offset)[0] == 4
    assert {c: g for c, g in zip(*_subtable(data, offset)) if g} == expected


def test_freetype_draws_the_advances_the_fit_check_measures(face):
    """At one pixel per font unit, FreeType's advance of each glyph is the table's."""
    text = "".join(LONGEST.values()) + "Zhang Wei-Müller 0123456789 No.12, 北京市朝阳区（甲）"
    by_font: dict[int, set[str]] = {}
    for char in set(text) - {" "}:
        by_font.setdefault(face.chain.glyph(char).font, set()).add(char)
    for i, chars in by_font.items():
        path, index = face.chain.paths[i]
        upm = face.chain.units_per_em(i)
        real = _freetype(path, index, upm)
        for char in chars:
            assert real.getlength(char) == face.chain.glyph(char).advance * upm, char


TEXTS = [
    "王小明", "欧阳𠀀龘龘龘龘龘龘龘龘龘龘龘龘", "ZHANG Wei", "Anna-Maria Wolfeschlegelsteinhausen",
    "李 Smith-Jones", "马克·约翰逊 Mark Johnson", "新疆维吾尔自治区伊犁哈萨克自治州霍尔果斯市亚欧路88号",
    "Flat 12B, 1201 Jianguo Road, Chaoyang District, Beijing", "北京市朝阳区建国路1201号院，甲乙丙丁",
    *LONGEST.values(),
]


def _limit_texts() -> list[str]:
    """Runs of one character around the length where each field stops fitting."""
    return [c * n for c in ("龘", "W", "i", "1", "𠀾") for n in range(8, 90, 4)]


def _verdict(chain, spec, text):
    try:
        fitted = fit_text(chain, spec, text, line_spacing=1.25, step=0.5)
    except FitError as exc:
        return ("refused", exc.reason)
    return (fitted.size, fitted.texts, [[g.advance for g in line] for line in fitted.lines])


def test_fit_verdicts_equal_those_with_the_fonts_fully_loaded(face, full_chain):
    refused = fitted = 0
    for side in ("front", "back"):
        for spec in face.layout.sides[side].fields.values():
            for text in TEXTS + _limit_texts() + ["北京\U0003134A"]:
                verdict = _verdict(face.chain, spec, text)
                assert verdict == _verdict(full_chain, spec, text), (spec.name, text)
                refused += verdict[0] == "refused"
                fitted += verdict[0] != "refused"
    assert refused > 100 and fitted > 100  # both sides of every field's limit were taken


def test_fitted_lines_measured_by_freetype_fit_their_boxes(face):
    for side in ("front", "back"):
        for spec in face.layout.sides[side].fields.values():
            for text in TEXTS + _limit_texts():
                try:
                    fitted = fit_text(face.chain, spec, text, line_spacing=1.25, step=0.5)
                except FitError:
                    continue
                for line in fitted.lines:
                    width_em = sum(_freetype_em(face.chain, g) for g in line)
                    assert width_em * fitted.size * MM_PER_PT <= spec.box.w + 1e-6, text


@functools.cache
def _freetype(path, index: int, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), pixels, index=index, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _freetype_em(chain: FontChain, glyph: Glyph) -> float:
    """The glyph's advance as FreeType draws it, at one pixel per font unit, in em."""
    path, index = chain.paths[glyph.font]
    upm = chain.units_per_em(glyph.font)
    return _freetype(path, index, upm).getlength(glyph.char) / upm
