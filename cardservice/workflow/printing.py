"""Printing the face of each produced card (``on_produced`` of a production run): with a CUPS
queue configured, both sides are printed after the chip write was read back and verified. A
print failure never unlinks or fails the card: it is logged and answered as the card's print
result (``PRINT_FAILED``), to be repeated with ``cardservice card print``."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from cardservice import errors
from cardservice.engine.operations import CardView
from cardservice.engine.views import card_dict
from cardservice.face import Face
from cardservice.face.printing import SIDES_AFTER, print_card
from cardservice.workflow.model import Application

logger = logging.getLogger(__name__)

OnProduced = Callable[[Application, CardView], "dict[str, Any] | None"]


def face_printer(face: Callable[[], Face], queue: str | None) -> OnProduced | None:
    """The ``on_produced`` hook printing both sides on ``queue``; None without a queue.
    ``face`` answers the face to render with (loaded when the first card is printed)."""
    if not queue:
        return None

    def on_produced(app: Application, view: CardView) -> dict[str, Any]:
        card = card_dict(view)
        side = SIDES_AFTER["issue"]
        photo = None if app.photo is None else base64.b64decode(app.photo)
        try:
            return print_card(face(), card, side, queue, photo=photo).to_dict()
        except errors.CardServiceError as exc:
            logger.warning("application %s: card %s was produced, but printing its face failed: "
                           "%s %s; print it again with `cardservice card print`", app.id,
                           card["card_serial"], exc.code, exc.message)
            error = exc.to_dict()
        except Exception as exc:  # a bug in rendering must not fail a produced card either
            logger.exception("application %s: printing card %s failed", app.id,
                             card["card_serial"])
            error = errors.PrintError(f"printing failed: {exc}").to_dict()
        return {"status": "failed", "card_serial": card["card_serial"], "queue": queue,
                "sides": ["front", "back"], "job": None, "error": error}

    return on_produced
