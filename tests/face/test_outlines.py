"""The PDF draws each glyph from FreeType (cardservice/face/outlines.py): the paths are exactly
the ones fontTools' glyph set draws for the layout's fonts (CFF curves as they are, each contour
closed), TrueType's quadratic curves become the cubics they equal (an implied on-curve point
within half a font unit: FreeType works it out in whole units), a file FreeType cannot open is
a layout error, faces drawn in two threads at once are the same bytes as faces drawn one after
another, and a line of text (the receipt's) draws a character no font has as the missing-glyph
box."""

from __future__ import annotations

import random
import threading

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.basePen import BasePen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

from cardservice.face import Face, LayoutError
from cardservice.face.outlines import Outlines

from .conftest import VECTOR_NAMES, vector_card
from .test_fit import LONGEST

#: random glyphs of each font, beyond the characters of the published vectors
SAMPLE = 400


class Recorder:
    """A path sink that keeps what it is given."""

    def __init__(self) -> None:
        self.ops: list[tuple] = []

    def moveTo(self, x, y):
        self.ops.append(("M", x, y))

    def lineTo(self, x, y):
        self.ops.append(("L", x, y))

    def curveTo(self, *points):
        self.ops.append(("C", *points))

    def close(self):
        self.ops.append(("Z",))


class FontToolsPen(BasePen):
    """fontTools' drawing into a recorder (BasePen turns quadratic curves into cubics)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(None)
        self.recorder = recorder

    def _moveTo(self, p):
        self.recorder.moveTo(*p)

    def _lineTo(self, p):
        self.recorder.lineTo(*p)

    def _curveToOne(self, p1, p2, p3):
        self.recorder.curveTo(*p1, *p2, *p3)

    def _closePath(self):
        self.recorder.close()


def _same(ours: list[tuple], theirs: list[tuple], within: float = 1e-9) -> bool:
    return len(ours) == len(theirs) and all(
        a[0] == b[0] and len(a) == len(b)
        and all(abs(p - q) <= within for p, q in zip(a[1:], b[1:]))
        for a, b in zip(ours, theirs))


def _card_texts() -> str:
    cards = [vector_card(name) for name in VECTOR_NAMES]
    return "".join(str(v) for card in cards for part in ("identity", "residence")
                   for v in card[part].values()) + "".join(LONGEST.values())


def test_every_glyph_drawn_is_the_one_fonttools_draws(face):
    chain = face.chain
    by_font: dict[int, set[int]] = {}
    for char in set(_card_texts()):
        glyph = chain.glyph(char)
        if glyph is not None:
            by_font.setdefault(glyph.font, set()).add(glyph.glyph_id)
    assert len(by_font) >= 2  # a fallback font draws some of them (U+20000, U+2003E)
    for i, (path, index) in enumerate(chain.paths):
        font = TTFont(str(path), fontNumber=index, lazy=True)
        try:
            glyphs, order = font.getGlyphSet(), font.getGlyphOrder()
            every = sorted({gid for _, gid in chain.metrics(i).glyph_ids()})
            wanted = by_font.get(i, set()) | set(random.Random(i).sample(every, SAMPLE))
            ours = Outlines(path, index)
            inked = 0
            for gid in sorted(wanted):
                drawn, expected = Recorder(), Recorder()
                ours.draw(gid, drawn, 1.0, 0.0, 0.0)
                glyphs[order[gid]].draw(FontToolsPen(expected))
                assert _same(drawn.ops, expected.ops), (path.name, gid)
                inked += bool(drawn.ops)  # a space draws nothing, in both
            assert inked > SAMPLE * 0.9, path.name
        finally:
            font.close()


def _curved_font(path) -> None:
    """A TrueType font whose one glyph has quadratic curves: two off-curve points in a row
    (an implied on-curve point between them, at a half unit), and a contour of off-curve
    points only."""
    pen = TTGlyphPen(None)
    pen.moveTo((101, 0))
    pen.qCurveTo((0, 333), (251, 701), (503, 700))
    pen.lineTo((903, 7))
    pen.closePath()
    pen.qCurveTo((300, 300), (301, 500), (501, 501), (500, 301), None)
    pen.closePath()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "curve"])
    builder.setupCharacterMap({0x41: "curve"})
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "curve": pen.glyph()})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "curve": (1000, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Curved", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))


def test_quadratic_curves_are_drawn_as_the_cubics_they_equal(tmp_path):
    _curved_font(tmp_path / "curved.ttf")
    drawn, expected = Recorder(), Recorder()
    Outlines(tmp_path / "curved.ttf", 0).draw(1, drawn, 1.0, 0.0, 0.0)
    TTFont(str(tmp_path / "curved.ttf")).getGlyphSet()["curve"].draw(FontToolsPen(expected))
    assert [op[0] for op in drawn.ops] == ["M", "C", "C", "L", "Z", "M", "C", "C", "C", "C", "Z"]
    assert _same(drawn.ops, expected.ops, within=0.5)
    assert not _same(drawn.ops, expected.ops)  # the implied points, in whole units


def test_scale_and_origin_place_the_outline(face):
    glyph = face.chain.glyph("证")
    outlines = Outlines(*face.chain.paths[glyph.font])
    unit, placed = Recorder(), Recorder()
    outlines.draw(glyph.glyph_id, unit, 1.0, 0.0, 0.0)
    outlines.draw(glyph.glyph_id, placed, 0.01, 20.0, 100.0)
    assert len(unit.ops) == len(placed.ops) > 10
    for a, b in zip(unit.ops, placed.ops):
        assert a[0] == b[0]
        xs, ys = a[1::2], a[2::2]
        assert b[1::2] == pytest.approx([20.0 + x * 0.01 for x in xs])
        assert b[2::2] == pytest.approx([100.0 + y * 0.01 for y in ys])


def test_a_file_freetype_cannot_open_is_a_layout_error(tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"\x00\x01\x00\x00" + b"\x00" * 60)
    with pytest.raises(LayoutError, match="cannot be opened"):
        Outlines(broken, 0)
    with pytest.raises(LayoutError, match="cannot be opened"):
        Outlines(tmp_path / "missing.ttf", 0)


def test_a_glyph_freetype_cannot_load_is_a_layout_error(tmp_path):
    _curved_font(tmp_path / "curved.ttf")
    font = TTFont(str(tmp_path / "curved.ttf"))
    at = font.reader.tables["glyf"].offset + font["loca"][1]  # glyph 1's numberOfContours
    data = bytearray((tmp_path / "curved.ttf").read_bytes())
    data[at:at + 2] = b"\x7f\xff"
    (tmp_path / "broken.ttf").write_bytes(bytes(data))
    outlines = Outlines(tmp_path / "broken.ttf", 0)
    with pytest.raises(LayoutError, match="glyph 1 cannot be drawn"):
        outlines.draw(1, Recorder(), 1.0, 0.0, 0.0)
    outlines.draw(0, Recorder(), 1.0, 0.0, 0.0)  # the font's other glyphs still draw


def test_faces_drawn_in_two_threads_are_the_faces_drawn_one_by_one():
    cards = [vector_card(name) for name in VECTOR_NAMES]
    alone = [Face.load().render(card, "both", "pdf") for card in cards]
    shared = Face.load()  # one font chain: one FreeType face per font for both threads
    results: dict[int, list[bytes]] = {}
    start = threading.Barrier(2)

    def draw(k: int) -> None:
        start.wait()
        results[k] = [shared.render(card, "both", "pdf") for card in cards * 3]

    threads = [threading.Thread(target=draw, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[0] == results[1] == alone * 3


class _Canvas:
    """The two canvas calls pdf_text makes without a searchable layer."""

    def __init__(self) -> None:
        self.paths: list[Recorder] = []

    def beginPath(self) -> Recorder:
        self.paths.append(Recorder())
        return self.paths[-1]

    def drawPath(self, path, **_options) -> None:
        assert path is self.paths[-1]


def test_a_character_no_font_has_is_drawn_as_the_missing_glyph_box(face):
    from cardservice.face.render import pdf_text

    chain = face.chain
    canvas = _Canvas()
    width = pdf_text(canvas, chain, "A\U00030000B", 10.0, 20.0, 12.0)
    a, b = chain.glyph("A"), chain.glyph("B")
    assert width == pytest.approx((a.advance + 1.0 + b.advance) * 12.0)  # the box is one em
    expected = Recorder()
    scale = 12.0 / chain.units_per_em(0)
    for glyph_id, x in ((a.glyph_id, 10.0), (0, 10.0 + a.advance * 12.0),
                        (b.glyph_id, 10.0 + (a.advance + 1.0) * 12.0)):
        Outlines(*chain.paths[0]).draw(glyph_id, expected, scale, x, 20.0)
    assert canvas.paths[0].ops == expected.ops
    box = Recorder()
    Outlines(*chain.paths[0]).draw(0, box, 1.0, 0.0, 0.0)
    assert box.ops  # glyph 0 (.notdef) of the first font has an outline: the box
