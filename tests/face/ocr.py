"""Reading a rendered face back with tesseract and finding each field's text where it was drawn.

Each rendered line of a field is cropped from the side's image at its place in the layout and read
as one text line (``--psm 7``) with ``chi_sim+eng``; a line that reading misses is read once more
with ``chi_sim`` alone (the mixed model tends to read a short line like "88 号" as Latin), then
from the crop scaled up twice (a "1" beside "月" in a rasterised PDF). The
whole side is read with ``chi_sim+eng`` for what must *not* be on it.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

from PIL import Image

from cardservice.face import Face
from cardservice.face.layout import MM_PER_PT
from cardservice.face.render import PX_PER_MM

#: The readings tried in turn for a line: (model, upscaling of the crop).
READINGS = (("chi_sim+eng", 1), ("chi_sim", 1), ("chi_sim+eng", 2))
MARGIN_MM = 0.8


def ocr(image: Path, *, lang: str = "chi_sim+eng", psm: str = "6") -> str:
    done = subprocess.run(["tesseract", str(image), "-", "-l", lang, "--psm", psm],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def compact(text: str) -> str:
    """Whitespace and the quote marks tesseract reads into gaps removed; full-width folded."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\"'“”‘’`]", "", text)


def pattern(line: str) -> re.Pattern[str]:
    """A rendered line as tesseract may read it: characters outside the Basic Multilingual Plane
    (CJK Extension B, which chi_sim was not trained on) match any one or two characters."""
    parts = [".{0,2}" if ord(c) > 0xFFFF else re.escape(c) for c in compact(line)]
    return re.compile("".join(parts))


def found(line: str, text: str) -> bool:
    return pattern(line).search(compact(text)) is not None


def ocr_each(images: list[Path], *, lang: str, psm: str) -> list[str]:
    """Each image read as a page of its own by one tesseract run (the model loads once, not once
    an image); the same reading as :func:`ocr` of each image alone."""
    if not images:
        return []
    listing = images[0].with_name(f"{images[0].stem}-pages.txt")
    listing.write_text("".join(f"{image}\n" for image in images), encoding="utf-8")
    pages = ocr(listing, lang=lang, psm=psm).split("\f")
    if len(pages) != len(images):  # not one page an image: read them one at a time
        return [ocr(image, lang=lang, psm=psm) for image in images]
    return pages


def unread_lines(face: Face, card: dict, side: str, image: Path) -> list[tuple[str, str, str]]:
    """(field, rendered line, what OCR read) for every line not read back at its place."""
    picture = Image.open(image)
    lines = []  # (field, rendered line, its crop, where the crop is saved for tesseract)
    for field, fitted in face.fitted(card, side).items():
        box = face.layout.sides[side].fields[field].box
        for i, line in enumerate(fitted.texts):
            top = box.y + i * fitted.line_pitch_mm
            crop = picture.crop((round((box.x - MARGIN_MM) * PX_PER_MM),
                                 round((top - MARGIN_MM) * PX_PER_MM),
                                 round((box.x + box.w + MARGIN_MM) * PX_PER_MM),
                                 round((top + fitted.size * MM_PER_PT + MARGIN_MM) * PX_PER_MM)))
            lines.append((field, line, crop, image.with_name(f"{image.stem}-{field}-{i}.png")))
    readings: list[list[str]] = [[] for _ in lines]
    unread = list(range(len(lines)))
    for lang, scale in READINGS:  # each reading in turn for the lines not read yet
        for k in unread:
            crop, path = lines[k][2], lines[k][3]
            crop.resize((crop.width * scale, crop.height * scale), Image.LANCZOS).save(path)
        texts = ocr_each([lines[k][3] for k in unread], lang=lang, psm="7")
        for k, text in zip(unread, texts, strict=True):
            readings[k].append(text)
        unread = [k for k in unread if not found(lines[k][1], readings[k][-1])]
    return [(lines[k][0], lines[k][1], " | ".join(r.strip() for r in readings[k]))
            for k in unread]
