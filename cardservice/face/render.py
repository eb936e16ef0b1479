"""Drawing a composed side: PNG at 300 dpi with Pillow, PDF at the exact card size with reportlab
(glyphs drawn as outlines: the CJK fonts are CFF, which reportlab cannot embed)."""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageDraw, ImageFont, ImageOps
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas

from cardservice.face.compose import SideFace
from cardservice.face.errors import PhotoError
from cardservice.face.fonts import FontChain, Glyph
from cardservice.face.layout import MM_PER_PT, Box

logger = logging.getLogger(__name__)

DPI = 300
PX_PER_MM = DPI / 25.4
INK = (20, 20, 20)
CORNER_MM = 3.18
PLACEHOLDER_FILL = (236, 236, 236)
PLACEHOLDER_LINE = (150, 150, 150)


def size_px(width_mm: float, height_mm: float) -> tuple[int, int]:
    return round(width_mm * PX_PER_MM), round(height_mm * PX_PER_MM)


# --- PNG ------------------------------------------------------------------------------------


def side_image(face: SideFace, chain: FontChain, photo: bytes | None) -> Image.Image:
    width, height = size_px(face.width_mm, face.height_mm)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=round(CORNER_MM * PX_PER_MM),
                           outline=(200, 200, 200), width=2)
    if face.photo is not None:  # under the text: the placeholder's word is a run
        _png_photo(image, draw, face.photo, photo)
    _png_runs(draw, face, chain)
    return image


def _png_runs(draw: ImageDraw.ImageDraw, face: SideFace, chain: FontChain) -> None:
    fonts: dict[tuple[int, float], ImageFont.FreeTypeFont] = {}
    for run in face.runs:
        for glyph, x in run.positions():
            key = (glyph.font, run.size)
            if key not in fonts:
                path, index = chain.paths[glyph.font]
                fonts[key] = ImageFont.truetype(str(path), run.size * MM_PER_PT * PX_PER_MM,
                                                index=index)
            draw.text((x * PX_PER_MM, run.baseline * PX_PER_MM), glyph.char, font=fonts[key],
                      fill=INK, anchor="ls")


def _px_box(box: Box) -> tuple[int, int, int, int]:
    return (round(box.x * PX_PER_MM), round(box.y * PX_PER_MM),
            round((box.x + box.w) * PX_PER_MM), round((box.y + box.h) * PX_PER_MM))


def _png_photo(image: Image.Image, draw: ImageDraw.ImageDraw, box: Box,
               photo: bytes | None) -> None:
    x0, y0, x1, y1 = _px_box(box)
    if photo is not None:
        picture = ImageOps.fit(open_photo(photo), (x1 - x0, y1 - y0))
        image.paste(picture, (x0, y0))
        return
    draw.rectangle((x0, y0, x1, y1), fill=PLACEHOLDER_FILL, outline=PLACEHOLDER_LINE, width=2)


def open_photo(photo: bytes) -> Image.Image:
    try:
        picture = Image.open(io.BytesIO(photo))
        picture.load()
    except Exception as exc:
        raise PhotoError(f"the photo is not a readable image: {exc}") from exc
    return picture.convert("RGB")


def png_bytes(images: list[Image.Image]) -> bytes:
    """One PNG: a single side, or several sides stacked top to bottom."""
    if len(images) == 1:
        image = images[0]
    else:
        gap = round(3 * PX_PER_MM)
        width = max(i.width for i in images)
        image = Image.new("RGB", (width, sum(i.height for i in images) + gap * (len(images) - 1)),
                          "white")
        y = 0
        for part in images:
            image.paste(part, (0, y))
            y += part.height + gap
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------


def pdf_bytes(faces: list[SideFace], chain: FontChain, photo: bytes | None, title: str) -> bytes:
    """One page per side, each exactly the card's size."""
    out = io.BytesIO()
    first = faces[0]
    canvas = Canvas(out, pagesize=(first.width_mm * mm, first.height_mm * mm), invariant=1)
    canvas.setTitle(title)
    canvas.setCreator("cardservice")
    for face in faces:
        _pdf_side(canvas, face, chain, photo)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _pdf_side(canvas: Canvas, face: SideFace, chain: FontChain, photo: bytes | None) -> None:
    height = face.height_mm * mm
    if face.photo is not None:
        _pdf_photo(canvas, face.photo, height, photo)
    canvas.setFillColorRGB(*(c / 255 for c in INK))
    path = canvas.beginPath()
    for run in face.runs:
        for glyph, x in run.positions():
            scale = run.size / chain.units_per_em(glyph.font)  # font units -> points
            chain.draw(glyph, path, scale, x * mm, height - run.baseline * mm)
    canvas.drawPath(path, stroke=0, fill=1, fillMode=FILL_NON_ZERO)


#: a character no font of the chain has is drawn as the first font's missing-glyph box (glyph 0),
#: one em wide
MISSING = Glyph("\ufffd", 0, 1.0, 0)


def pdf_text(canvas: Canvas, chain: FontChain, text: str, x: float, y: float, size: float, *,
             centred: bool = False, searchable_font: str | None = None) -> float:
    """One line of ``text`` drawn as the chain's glyph outlines, so that no font is needed to
    show or print it; left end (or centre, ``centred``) at ``x``, baseline at ``y``, in points.
    ``searchable_font`` (a registered reportlab font): the same text again as invisible text
    (render mode 3) stretched to the same width, which makes the page searchable and its text
    copyable; a character outside the Basic Multilingual Plane is U+FFFD there, as a CID font's
    UCS-2 encoding cannot hold it. Returns the width drawn."""
    glyphs = [chain.glyph(c) or MISSING for c in text]
    width = sum(g.advance for g in glyphs) * size
    left = x - width / 2 if centred else x
    if searchable_font is not None and text.strip():
        _invisible(canvas, text, left, y, size, width, searchable_font)
    path = canvas.beginPath()
    pen = left
    for glyph in glyphs:
        chain.draw(glyph, path, size / chain.units_per_em(glyph.font), pen, y)
        pen += glyph.advance * size
    canvas.drawPath(path, stroke=0, fill=1, fillMode=FILL_NON_ZERO)
    return width


def _invisible(canvas: Canvas, text: str, x: float, y: float, size: float, width: float,
               font: str) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    shown = "".join("\ufffd" if ord(c) > 0xFFFF else c for c in text)
    layer = canvas.beginText(x, y)
    layer.setTextRenderMode(3)
    layer.setFont(font, size)
    natural = stringWidth(shown, font, size)
    if natural > 0:
        layer.setHorizScale(100 * width / natural)
    layer.textOut(shown)
    canvas.drawText(layer)


def _pdf_photo(canvas: Canvas, box: Box, height: float, photo: bytes | None) -> None:
    from reportlab.lib.utils import ImageReader

    x, y, w, h = box.x * mm, height - (box.y + box.h) * mm, box.w * mm, box.h * mm
    if photo is not None:
        px = (round(box.w * PX_PER_MM), round(box.h * PX_PER_MM))
        picture = ImageOps.fit(open_photo(photo), px)
        canvas.drawImage(ImageReader(picture), x, y, w, h)
        return
    canvas.setFillColorRGB(*(c / 255 for c in PLACEHOLDER_FILL))
    canvas.setStrokeColorRGB(*(c / 255 for c in PLACEHOLDER_LINE))
    canvas.rect(x, y, w, h, stroke=1, fill=1)
