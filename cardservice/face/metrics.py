"""A font's character map and advance widths as two compact arrays: all the fit check needs.

Loading a CJK font with fontTools to measure text keeps its whole glyph set in memory (about
65 MB for the Noto CJK collection: the CFF table, 65,535 glyph names, the horizontal and vertical
metrics as dicts). This reads only the ``cmap``, ``hhea``, ``maxp``, ``head`` and ``hmtx``
tables' bytes (fontTools is not even imported for a plain TrueType / OpenType file or
collection) and keeps, per character, its advance in font units and its glyph id (8 bytes a
character: 0.35 MB for the 44,300 characters of the same font). The character map chosen, the
advances and the glyph ids are exactly fontTools' (``getBestCmap`` and ``hmtx``); a subtable
format this does not parse falls back to fontTools.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from itertools import pairwise
from pathlib import Path

#: fontTools' ``getBestCmap`` order of (platform, encoding) subtables
CMAP_PREFERENCES = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))


class UnsupportedCmap(Exception):
    """A cmap subtable format this module does not parse."""


class FontMetrics:
    """Which characters a font has, each one's advance width in em and its glyph id."""

    def __init__(self, codes: array, advances: array, glyph_ids: array,
                 units_per_em: int) -> None:
        self._codes = codes  # sorted, unique code points
        self._advances = advances  # font units, same order
        self._glyph_ids = glyph_ids  # same order: what the PDF draws (cardservice.face.outlines)
        self.upm = units_per_em

    def __len__(self) -> int:
        return len(self._codes)

    def advance(self, code: int) -> float | None:
        """The advance of ``code`` in em, or None if the font has no glyph for it."""
        i = bisect_left(self._codes, code)
        if i < len(self._codes) and self._codes[i] == code:
            return self._advances[i] / self.upm
        return None

    def glyph_id(self, code: int) -> int | None:
        """The glyph ``code`` maps to, or None if the font has none."""
        i = bisect_left(self._codes, code)
        if i < len(self._codes) and self._codes[i] == code:
            return self._glyph_ids[i]
        return None

    def items(self):
        """(code point, advance in font units) for every character, in code point order."""
        return zip(self._codes, self._advances)

    def glyph_ids(self):
        """(code point, glyph id) for every character, in code point order."""
        return zip(self._codes, self._glyph_ids)


def read_metrics(path: Path, index: int) -> FontMetrics:
    """The metrics of face ``index`` of the font file ``path`` (a collection or a single font)."""
    tables = read_tables(path, index, ("head", "maxp", "hhea", "hmtx", "cmap"))
    upm = struct.unpack_from(">H", tables["head"], 18)[0]
    num_glyphs = struct.unpack_from(">H", tables["maxp"], 4)[0]
    widths = _advance_widths(tables["hhea"], tables["hmtx"], num_glyphs)
    try:
        codes, gids = _best_cmap(tables["cmap"])
    except UnsupportedCmap:
        codes, gids = _fonttools_cmap(path, index)
    del tables
    if gids and (min(gids) == 0 or max(gids) >= num_glyphs):
        # fontTools drops glyph 0 (.notdef); a glyph past the font's end is no glyph either
        kept = [i for i, gid in enumerate(gids) if 0 < gid < num_glyphs]
        codes = array("I", (codes[i] for i in kept))
        gids = array("I", (gids[i] for i in kept))
    return FontMetrics(codes, array("H", (widths[gid] for gid in gids)), array("H", gids), upm)


def read_tables(path: Path, index: int, tags: tuple[str, ...]) -> dict[str, bytes]:
    """The named tables' bytes of face ``index`` of a font file or collection."""
    with open(path, "rb") as file:
        head = file.read(12)
        if head[:4] in (b"wOFF", b"wOF2"):  # compressed: fontTools unpacks it
            return _fonttools_tables(file, index, tags)
        start = 0
        if head[:4] == b"ttcf":
            count = struct.unpack_from(">I", head, 8)[0]
            if not 0 <= index < count:
                raise ValueError(f"the collection has {count} fonts, no index {index}")
            file.seek(12 + 4 * index)
            start = struct.unpack(">I", file.read(4))[0]
        elif index != 0:
            raise ValueError(f"a single font has no index {index}")
        file.seek(start + 4)
        count = struct.unpack(">H", file.read(2))[0]
        file.seek(start + 12)
        directory = file.read(16 * count)
        found = {}
        for k in range(count):
            tag, _checksum, offset, length = struct.unpack_from(">4sIII", directory, 16 * k)
            found[tag.decode("latin-1")] = (offset, length)
        return {tag: _table(file, found, tag) for tag in tags}


def _table(file, found: dict[str, tuple[int, int]], tag: str) -> bytes:
    if tag not in found:
        raise ValueError(f"the font has no {tag!r} table")
    offset, length = found[tag]
    file.seek(offset)
    return file.read(length)


def _fonttools_tables(file, index: int, tags: tuple[str, ...]) -> dict[str, bytes]:
    from fontTools.ttLib.sfnt import SFNTReader

    file.seek(0)
    reader = SFNTReader(file, fontNumber=index)
    return {tag: reader[tag] for tag in tags}


def _advance_widths(hhea: bytes, hmtx: bytes, num_glyphs: int) -> array:
    """Advance width per glyph id (glyphs after the last long metric repeat its advance)."""
    long_metrics = struct.unpack_from(">H", hhea, 34)[0]
    pairs = array("H", hmtx[:4 * long_metrics])
    if sys.byteorder == "little":
        pairs.byteswap()
    widths = pairs[0::2]
    widths.extend([widths[-1]] * max(0, num_glyphs - long_metrics))
    return widths


def _best_cmap(data: bytes) -> tuple[array, array]:
    """(code points, glyph ids) of the subtable fontTools' ``getBestCmap`` would use."""
    count = struct.unpack_from(">H", data, 2)[0]
    records = [struct.unpack_from(">HHI", data, 4 + 8 * k) for k in range(count)]
    for wanted in CMAP_PREFERENCES:
        for platform, encoding, offset in records:
            if (platform, encoding) == wanted:
                return _unique(*_subtable(data, offset))
    return array("I"), array("I")


def _subtable(data: bytes, offset: int) -> tuple[array, array]:
    """(code points, glyph ids) in the subtable's order (arrays: no object per character)."""
    fmt = struct.unpack_from(">H", data, offset)[0]
    if fmt == 4:
        return _format4(data, offset)
    if fmt not in (12, 13):
        raise UnsupportedCmap(f"cmap format {fmt}")
    codes, gids = array("I"), array("I")
    groups = struct.unpack_from(">I", data, offset + 12)[0]
    for start, end, gid in struct.iter_unpack(">III", data[offset + 16:offset + 16 + 12 * groups]):
        codes.extend(range(start, end + 1))
        gids.extend(range(gid, gid + end - start + 1) if fmt == 12 else [gid] * (end - start + 1))
    return codes, gids


def _format4(data: bytes, offset: int) -> tuple[array, array]:
    """Segments as fontTools reads them (its last segment, the 0xFFFF end, is skipped)."""
    segments = struct.unpack_from(">H", data, offset + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", data, offset + 14)
    starts = struct.unpack_from(f">{segments}H", data, offset + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", data, offset + 16 + 4 * segments)
    ranges_at = offset + 16 + 6 * segments
    ranges = struct.unpack_from(f">{segments}H", data, ranges_at)
    codes, gids = array("I"), array("I")
    for i in range(segments - 1):
        span = range(starts[i], ends[i] + 1)
        codes.extend(span)
        if ranges[i] == 0:
            gids.extend((code + deltas[i]) & 0xFFFF for code in span)
            continue
        at = ranges_at + 2 * i + ranges[i]
        for gid in struct.unpack_from(f">{len(span)}H", data, at):
            gids.append((gid + deltas[i]) & 0xFFFF if gid else 0)
    return codes, gids


def _unique(codes: array, gids: array) -> tuple[array, array]:
    """Sorted by code point; a code point mapped twice keeps its last glyph, as a dict would."""
    if all(a < b for a, b in pairwise(codes)):
        return codes, gids
    mapping = dict(zip(codes, gids))
    return array("I", sorted(mapping)), array("I", (mapping[c] for c in sorted(mapping)))


def _fonttools_cmap(path: Path, index: int) -> tuple[array, array]:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        best = sorted((font.getBestCmap() or {}).items())
        return (array("I", (code for code, _ in best)),
                array("I", (font.getGlyphID(name) for _, name in best)))
    finally:
        font.close()
