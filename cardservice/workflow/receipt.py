"""The holder's receipt for a submitted application: one A5 page (PDF).

It shows the application number, name, the citizen number partly masked, the acceptance point,
the submitted and due dates, and a QR code of the application number. The text is drawn as the
glyph outlines of the card face's fonts (:func:`cardservice.face.render.pdf_text`), so a name
prints as on the card, a character of CJK Extension B included, whatever fonts the viewer or
the printer has; the same text is on the page again as invisible text in reportlab's built-in
CJK font (STSong-Light, nothing embedded), for search and copy. The QR code is drawn as vector
squares from segno's matrix at :data:`QR_ORIGIN`, so it prints sharp at any resolution.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from reportlab.lib.pagesizes import A5

from cardservice.workflow.model import Application, Kind, mask_citizen_number

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

    from cardservice.face import Face
    from cardservice.face.fonts import FontChain

# segno and reportlab's canvas and CID fonts are imported when a receipt is made, not with the
# daemon's routes: they cost an idle daemon about 3 MB it needs only for a receipt.

logger = logging.getLogger(__name__)

FONT = "STSong-Light"
PAGE = A5  # 419.5 x 595.3 pt
#: the QR code's top-left corner (points from the page's top-left) and one module's size
QR_ORIGIN = (40.0, 370.0)
QR_MODULE = 4.0
KIND_LABELS = {Kind.FIRST_ISSUE: "首次申领 first issue", Kind.REPLACEMENT: "补领 replacement",
               Kind.FAMILY: "随迁家属 family member"}


@dataclass(frozen=True)
class ReceiptText:
    """What the receipt says, in the order it prints (label, value)."""

    rows: tuple[tuple[str, str], ...]


def receipt_text(app: Application, site_name: str | None = None) -> ReceiptText:
    provisional = " (provisional calendar)" if app.due_on_provisional else ""
    return ReceiptText((
        ("申请编号 Application no.", app.id),
        ("申请类别 Kind", KIND_LABELS[app.kind]),
        ("姓名 Name", app.identity["name"]),
        ("公民身份号码 Citizen no.", mask_citizen_number(app.citizen_number)),
        ("受理点 Acceptance point", site_name or app.site),
        ("受理日期 Submitted", _day(app.submitted_at)),
        ("领证日期 Ready on", app.due_on.isoformat() + provisional),
    ))


def qr_matrix(application_id: str) -> list[list[bool]]:
    """The QR code's modules (True = dark), quiet zone excluded."""
    import segno

    qr = segno.make(application_id, error="m", micro=False)
    return [[bool(cell) for cell in row] for row in qr.matrix]


def render_receipt(app: Application, site_name: str | None = None, *,
                   face: Face | None = None) -> bytes:
    """The receipt PDF for ``app``, its text in the fonts of ``face`` (the card face of the
    data directory; the default layout's unless given). A layout or font that cannot be used is
    FACE_UNAVAILABLE, as for the card's face."""
    from cardservice.face import Face, as_service_errors

    with as_service_errors():
        return _render(app, site_name, (face or Face()).chain)


def _render(app: Application, site_name: str | None, fonts: FontChain) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    from cardservice.face.render import pdf_text

    _register_font()
    out = io.BytesIO()
    pdf = Canvas(out, pagesize=PAGE, invariant=True)
    pdf.setTitle(f"Receipt {app.id}")
    width, height = PAGE

    def line(text: str, x: float, y: float, size: float, *, centred: bool = False) -> None:
        pdf_text(pdf, fonts, text, x, y, size, centred=centred, searchable_font=FONT)

    line("居住证申领受理回执", width / 2, height - 50, 15, centred=True)
    line("Residence permit application receipt", width / 2, height - 66, 10, centred=True)
    y = height - 105
    for label, value in receipt_text(app, site_name).rows:
        line(label, 40, y, 9)
        line(value, 175, y, 11)
        y -= 24
    _draw_qr(pdf, qr_matrix(app.id), height)
    line("凭本回执及身份证件领取居住证。Bring this receipt and your ID card to collect the "
         "permit.", 40, 40, 8)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _draw_qr(pdf: Canvas, matrix: list[list[bool]], page_height: float) -> None:
    left, top = QR_ORIGIN
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x = left + c * QR_MODULE
                y = page_height - top - (r + 1) * QR_MODULE
                pdf.rect(x, y, QR_MODULE, QR_MODULE, stroke=0, fill=1)


def _day(moment: datetime | date) -> str:
    return (moment.astimezone().date() if isinstance(moment, datetime) else moment).isoformat()


_registered = False


def _register_font() -> None:
    global _registered
    if not _registered:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
