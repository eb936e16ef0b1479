"""A font's character map and advance widths as two compact arrays: all the fit check needs.

Loading a CJK font with fontTools to measure text keeps its whole glyph set in memory (about
65 MB for the Noto CJK collection: the CFF table, 65,535 glyph names, the horizontal and vertical
metrics as dicts). This reads only the ``cmap``, ``hhea``, ``maxp``, ``head`` and ``hmtx``
tables' bytes and keeps, per character, its advance in font units (6 bytes a character, about
0.3 MB for the same font). The character map chosen and the advances are exactly fontTools'
(``getBestCmap`` and ``hmtx``); a subtable format this does not parse falls back to fontTools.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from itertools import pairwise
from pathlib import Path

from fontTools.ttLib import TTFont
from fontTools.ttLib.sfnt import SFNTReader

#: fontTools' ``getBestCmap`` order of (platform, encoding) subtables
CMAP_PREFERENCES = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))


class UnsupportedCmap(Exception):
    """A cmap subtable format this module does not parse."""


class FontMetrics:
    """Which characters a font has, and each one's advance width in em."""

    def __init__(self, codes: array, advances: array, units_per_em: int) -> None:
        self._codes = codes  # sorted, unique code points
        self._advances = advances  # font units, same order
        self.upm = units_per_em

    def __len__(self) -> int:
        return len(self._codes)

    def advance(self, code: int) -> float | None:
        """The advance of ``code`` in em, or None if the font has no glyph for it."""
        i = bisect_left(self._codes, code)
        if i < len(self._codes) and self._codes[i] == code:
            return self._advances[i] / self.upm
        return None

    def items(self):
        """(code point, advance in font units) for every character, in code point order."""
        return zip(self._codes, self._advances)


def read_metrics(path: Path, index: int) -> FontMetrics:
    """The metrics of face ``index`` of the font file ``path`` (a collection or a single font)."""
    with open(path, "rb") as file:
        reader = SFNTReader(file, fontNumber=index)
        upm = struct.unpack_from(">H", reader["head"], 18)[0]
        num_glyphs = struct.unpack_from(">H", reader["maxp"], 4)[0]
        widths = _advance_widths(reader["hhea"], reader["hmtx"], num_glyphs)
        try:
            pairs = _best_cmap(reader["cmap"])
        except UnsupportedCmap:
            pairs = None
    if pairs is None:
        pairs = _fonttools_cmap(path, index)
    codes, advances = array("I"), array("H")
    for code, gid in pairs:
        if 0 < gid < num_glyphs:  # fontTools drops gid 0 (.notdef); past the end is no glyph
            codes.append(code)
            advances.append(widths[gid])
    return FontMetrics(codes, advances, upm)


def _advance_widths(hhea: bytes, hmtx: bytes, num_glyphs: int) -> array:
    """Advance width per glyph id (glyphs after the last long metric repeat its advance)."""
    long_metrics = struct.unpack_from(">H", hhea, 34)[0]
    pairs = array("H", hmtx[:4 * long_metrics])
    if sys.byteorder == "little":
        pairs.byteswap()
    widths = pairs[0::2]
    widths.extend([widths[-1]] * max(0, num_glyphs - long_metrics))
    return widths


def _best_cmap(data: bytes) -> list[tuple[int, int]]:
    """(code point, glyph id) pairs of the subtable fontTools' ``getBestCmap`` would use."""
    count = struct.unpack_from(">H", data, 2)[0]
    records = [struct.unpack_from(">HHI", data, 4 + 8 * k) for k in range(count)]
    for wanted in CMAP_PREFERENCES:
        for platform, encoding, offset in records:
            if (platform, encoding) == wanted:
                return _unique(_subtable(data, offset))
    return []


def _subtable(data: bytes, offset: int) -> list[tuple[int, int]]:
    fmt = struct.unpack_from(">H", data, offset)[0]
    if fmt == 4:
        return _format4(data, offset)
    if fmt in (12, 13):
        groups = struct.unpack_from(">I", data, offset + 12)[0]
        pairs = []
        for k in range(groups):
            start, end, gid = struct.unpack_from(">III", data, offset + 16 + 12 * k)
            if fmt == 12:
                pairs.extend(zip(range(start, end + 1), range(gid, gid + end - start + 1)))
            else:
                pairs.extend((code, gid) for code in range(start, end + 1))
        return pairs
    raise UnsupportedCmap(f"cmap format {fmt}")


def _format4(data: bytes, offset: int) -> list[tuple[int, int]]:
    """Segments as fontTools reads them (its last segment, the 0xFFFF end, is skipped)."""
    segments = struct.unpack_from(">H", data, offset + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", data, offset + 14)
    starts = struct.unpack_from(f">{segments}H", data, offset + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", data, offset + 16 + 4 * segments)
    ranges_at = offset + 16 + 6 * segments
    ranges = struct.unpack_from(f">{segments}H", data, ranges_at)
    pairs = []
    for i in range(segments - 1):
        for code in range(starts[i], ends[i] + 1):
            if ranges[i] == 0:
                gid = code + deltas[i]
            else:
                at = ranges_at + 2 * i + ranges[i] + 2 * (code - starts[i])
                gid = struct.unpack_from(">H", data, at)[0]
                gid = gid + deltas[i] if gid else 0
            pairs.append((code, gid & 0xFFFF))
    return pairs


def _unique(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted by code point; a code point mapped twice keeps its last glyph, as a dict would."""
    if all(a[0] < b[0] for a, b in pairwise(pairs)):
        return pairs
    return sorted(dict(pairs).items())


def _fonttools_cmap(path: Path, index: int) -> list[tuple[int, int]]:
    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        best = font.getBestCmap() or {}
        return sorted((code, font.getGlyphID(name)) for code, name in best.items())
    finally:
        font.close()
