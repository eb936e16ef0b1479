"""Glyph outlines for the PDF, from FreeType (freetype-py).

reportlab cannot embed the CFF outlines of the CJK fonts, so the PDF draws each glyph as a path.
FreeType maps the font file and decodes only the glyphs it is asked for: opening the Noto CJK
collection's face and drawing a card's glyphs keeps about 1 MB, where fontTools' glyph set kept
72 MB for the daemon's life (docs/benchmarks.md, "The PDF's fonts"). The outlines are the
font's own, in font units, unhinted: quadratic (TrueType) curves are drawn as the cubic curves
they equal, and each contour is closed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from cardservice.face.layout import LayoutError

#: freetype-py keeps one FreeType library per process, and FreeType's faces and library are
#: not safe to use from two threads at once (faces are rendered rarely: one lock is enough)
_lock = threading.Lock()


class PathSink(Protocol):
    """Where a glyph is drawn: reportlab's path object has exactly these (its camelCase names)."""

    def moveTo(self, x: float, y: float) -> None: ...

    def lineTo(self, x: float, y: float) -> None: ...

    def curveTo(self, x1: float, y1: float, x2: float, y2: float,
                x3: float, y3: float) -> None: ...

    def close(self) -> None: ...


class Outlines:
    """The outlines of face ``index`` of the font file ``path``. freetype-py is imported here,
    by the first face drawn as PDF: a daemon that only checks faces before writes does not
    load it (4 MB)."""

    def __init__(self, path: Path, index: int) -> None:
        import freetype

        self.path = path
        self._error = freetype.FT_Exception
        #: the outline as the font stores it: font units, unhinted, never a bitmap strike
        self._load = (freetype.FT_LOAD_NO_SCALE | freetype.FT_LOAD_NO_HINTING
                      | freetype.FT_LOAD_NO_BITMAP)
        with _lock:
            try:
                self._face = freetype.Face(str(path), index)
            except freetype.FT_Exception as exc:
                raise LayoutError(f"font {path}: cannot be opened: {exc}") from exc

    def draw(self, glyph_id: int, sink: PathSink, scale: float, x: float, y: float) -> None:
        """Glyph ``glyph_id`` into ``sink``: font units times ``scale``, the glyph's origin at
        (``x``, ``y``). A glyph FreeType cannot load is a :class:`LayoutError` (the font is
        broken), as a font that cannot be opened is."""
        with _lock:
            try:
                self._face.load_glyph(glyph_id, self._load)
                _Decomposer(sink, scale, x, y).run(self._face.glyph.outline)
            except self._error as exc:
                raise LayoutError(f"font {self.path}: glyph {glyph_id} cannot be drawn: "
                                  f"{exc}") from exc


class _Decomposer:
    """FreeType's outline walk (``FT_Outline_Decompose``: implied on-curve points worked out)
    into the sink, placed and scaled. FreeType ends each contour with a line back to its start;
    the sink's ``close`` draws that line, so it is left out (the path is then the one fontTools
    draws, and the PDF no larger)."""

    def __init__(self, sink: PathSink, scale: float, x: float, y: float) -> None:
        self.sink, self.scale, self.x, self.y = sink, scale, x, y
        self.start: tuple[float, float] | None = None  # the open contour's first point
        self.at = (0.0, 0.0)  # the current point, placed
        self.line: tuple[float, float] | None = None  # a line not drawn yet: the closing one?

    def run(self, outline) -> None:
        outline.decompose(None, move_to=self._move, line_to=self._line, conic_to=self._conic,
                          cubic_to=self._cubic)
        self._close()

    def _pt(self, v) -> tuple[float, float]:
        return self.x + v.x * self.scale, self.y + v.y * self.scale

    def _draw_line(self) -> None:
        if self.line is not None:
            self.sink.lineTo(*self.line)
            self.line = None

    def _close(self) -> None:
        if self.start is None:
            return
        if self.line != self.start:
            self._draw_line()
        self.line = self.start = None
        self.sink.close()

    def _move(self, to, _context) -> None:
        self._close()
        self.start = self.at = self._pt(to)
        self.sink.moveTo(*self.at)

    def _line(self, to, _context) -> None:
        self._draw_line()
        self.line = self.at = self._pt(to)

    def _conic(self, control, to, _context) -> None:
        """A quadratic curve as the cubic it equals: each control point two thirds of the way
        from an end to the quadratic's control point."""
        self._draw_line()
        (x0, y0), (qx, qy), (x3, y3) = self.at, self._pt(control), self._pt(to)
        self.sink.curveTo(x0 + 2 * (qx - x0) / 3, y0 + 2 * (qy - y0) / 3,
                          x3 + 2 * (qx - x3) / 3, y3 + 2 * (qy - y3) / 3, x3, y3)
        self.at = (x3, y3)

    def _cubic(self, c1, c2, to, _context) -> None:
        self._draw_line()
        self.at = self._pt(to)
        self.sink.curveTo(*self._pt(c1), *self._pt(c2), *self.at)
