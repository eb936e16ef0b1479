"""The card's printed face: layout (data), fitting, PNG / PDF rendering, and printing.

``render_face(card_view, side, fmt)`` is the one call for showing a card: ``card_view`` is a card
as read (the JSON of ``GET /v1/readers/{id}/card``, ``engine.views.card_dict``), ``side`` is ``front``,
``back`` or ``both``, ``fmt`` is ``png`` or ``pdf``; the photo is the card's own
(``identity.photo``, when the read included it) unless ``photo`` (JPEG bytes) is given.
:class:`Face` is the same with a chosen layout, and checks an identity and a record before they
are written (:meth:`Face.check`).

Showing a card (``lenient=True``) draws what this layout cannot print as it was meant (a card
written under another layout or with other fonts): :meth:`Face.problems` names those fields.
Writing and printing never do: they refuse such a field.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from card_layout.identity import Identity
from card_layout.record import ResidenceRecord
from cardservice import errors as service_errors
from cardservice.face.compose import compose, fit_side
from cardservice.face.content import back_texts, front_texts, texts_from_card
from cardservice.face.errors import PhotoError
from cardservice.face.fit import FitError, Fitted, fit_text
from cardservice.face.fonts import FontChain, font_chain
from cardservice.face.layout import Layout, LayoutError, load_layout

logger = logging.getLogger(__name__)

SIDE_CHOICES = ("front", "back", "both")
FORMATS = ("png", "pdf")

__all__ = ["FORMATS", "SIDE_CHOICES", "Face", "FitError", "LayoutError", "PhotoError",
           "as_service_errors", "render_face", "sides_of"]


def sides_of(side: str) -> tuple[str, ...]:
    if side == "both":
        return ("front", "back")
    if side in ("front", "back"):
        return (side,)
    raise ValueError(f"side must be one of {', '.join(SIDE_CHOICES)}, not {side!r}")


@contextlib.contextmanager
def as_service_errors(prefix: str = "") -> Iterator[None]:
    """The face's failures as the service's errors: a field that does not print is
    VALIDATION_ERROR naming ``prefix`` + the field (reason ``no_glyph`` or ``does_not_fit``), a
    photo that is no image VALIDATION_ERROR ``photo``, a layout or font that cannot be used
    FACE_UNAVAILABLE."""
    try:
        yield
    except FitError as exc:
        raise service_errors.ValidationError(prefix + exc.field, exc.message,
                                             exc.reason) from exc
    except PhotoError as exc:
        raise service_errors.ValidationError("photo", str(exc), "bad_format") from exc
    except LayoutError as exc:
        raise service_errors.FaceUnavailableError(str(exc)) from exc


class Face:
    """A layout with its fonts: given, or loaded on first use from the data directory ``home``
    (the county's ``face-layout.json`` there, else the default)."""

    def __init__(self, layout: Layout | None = None, *, home: Path | None = None) -> None:
        self._layout = layout
        self._home = home
        self._chain: FontChain | None = None

    @classmethod
    def load(cls, home: Path | None = None) -> Face:
        return cls(load_layout(home))

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            self._layout = load_layout(self._home)
        return self._layout

    @property
    def chain(self) -> FontChain:
        if self._chain is None:
            self._chain = font_chain(self.layout)
        return self._chain

    def warm(self) -> None:
        """Load the layout and the main font now (about a second), not in the first operation."""
        self.chain.glyph("0")

    def check(self, identity: Identity | None, record: ResidenceRecord | None) -> None:
        """:class:`FitError` naming the first field that cannot be printed on its side."""
        if identity is not None:
            fit_side(self.layout, self.chain, "front", front_texts(self.layout, identity))
        if record is not None:
            fit_side(self.layout, self.chain, "back", back_texts(self.layout, record))

    def check_field(self, side: str, field: str, text: str) -> None:
        """:class:`FitError` if ``text`` does not print in ``field`` of ``side`` (the side's
        other fields are not looked at: an application knows its residence long before the
        record's other fields)."""
        layout = self.layout
        fit_text(self.chain, layout.sides[side].fields[field], text,
                 line_spacing=layout.line_spacing, step=layout.size_step)

    def fitted(self, card: dict[str, Any], side: str, *,
               lenient: bool = False) -> dict[str, Fitted]:
        return fit_side(self.layout, self.chain, side, texts_from_card(self.layout, card)[side],
                        lenient=lenient)

    def problems(self, card: dict[str, Any], side: str) -> list[tuple[str, str]]:
        """(field, reason) of each field of ``side`` (``front``, ``back``, ``both``) that this
        layout cannot print as the card holds it: ``identity.<field>`` on the front,
        ``residence.<field>`` on the back; reason ``no_glyph`` or ``does_not_fit``."""
        found = []
        for s in sides_of(side):
            prefix = "identity." if s == "front" else "residence."
            found += [(prefix + field, reason)
                      for field, fitted in self.fitted(card, s, lenient=True).items()
                      for reason in fitted.problems]
        return found

    def render(self, card: dict[str, Any], side: str, fmt: str, *,
               photo: bytes | None = None, lenient: bool = False) -> bytes:
        """``card`` (a card dict) drawn as PNG (sides stacked) or PDF (one page per side);
        ``lenient``: drawn even where this layout cannot print it (see :meth:`problems`)."""
        # Pillow and reportlab are imported by the first render: a daemon that only checks
        # faces before writes does not keep them (about 6 MB)
        from cardservice.face.render import pdf_bytes, png_bytes, side_image

        texts = texts_from_card(self.layout, card)
        photo = photo if photo is not None else card_photo(card)
        faces = [compose(self.layout, self.chain, s, texts[s], has_photo=photo is not None,
                         lenient=lenient)
                 for s in sides_of(side)]
        if fmt == "png":
            return png_bytes([side_image(f, self.chain, photo) for f in faces])
        if fmt == "pdf":
            title = f"RP1 card {card.get('card_serial', '')} {side}"
            return pdf_bytes(faces, self.chain, photo, title)
        raise ValueError(f"format must be png or pdf, not {fmt!r}")


def card_photo(card: dict[str, Any]) -> bytes | None:
    """The photo a card dict carries (``identity.photo``, base64, when the read asked for it)."""
    encoded = (card.get("identity") or {}).get("photo")
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PhotoError(f"identity.photo is not base64: {exc}") from exc


_default: Face | None = None


def render_face(card_view: Any, side: str, fmt: str, *, photo: bytes | None = None,
                face: Face | None = None) -> bytes:
    """The card's face as PNG or PDF bytes (the default layout unless ``face`` is given)."""
    global _default
    if face is None:
        if _default is None:
            _default = Face.load()
        face = _default
    return face.render(card_view, side, fmt, photo=photo)
