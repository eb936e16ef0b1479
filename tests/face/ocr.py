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


def unread_lines(face: Face, card: dict, side: str, image: Path) -> list[tuple[str, str, str]]:
    """(field, rendered line, what OCR read) for every line not read back at its place."""
    picture = Image.open(image)
    missing = []
    for field, fitted in face.fitted(card, side).items():
        box = face.layout.sides[side].fields[field].box
        for i, line in enumerate(fitted.texts):
            top = box.y + i * fitted.line_pitch_mm
            crop = picture.crop((round((box.x - MARGIN_MM) * PX_PER_MM),
                                 round((top - MARGIN_MM) * PX_PER_MM),
                                 round((box.x + box.w + MARGIN_MM) * PX_PER_MM),
                                 round((top + fitted.size * MM_PER_PT + MARGIN_MM) * PX_PER_MM)))
            path = image.with_name(f"{image.stem}-{field}-{i}.png")
            readings = []
            for lang, scale in READINGS:
                crop.resize((crop.width * scale, crop.height * scale), Image.LANCZOS).save(path)
                readings.append(ocr(path, lang=lang, psm="7"))
                if found(line, readings[-1]):
                    break
            else:
                missing.append((field, line, " | ".join(r.strip() for r in readings)))
    return missing
