"""Printing the card's face through CUPS (``lp -d QUEUE``), and which sides a write reprints.

A first issue prints both sides; a re-sign or a renewal changes only the erasable area, so only
the back is reprinted. Printing runs after the chip write was read back and verified; a failure
is ``PRINT_FAILED`` (retriable) and is repeated by printing again, never by rewriting the chip.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from cardservice import errors
from cardservice.face import Face, as_service_errors, sides_of

logger = logging.getLogger(__name__)

#: The sides each card write reprints.
SIDES_AFTER = {"issue": "both", "resign": "back", "renew": "back"}
LP_TIMEOUT = 30.0
_QUEUE = re.compile(r"^[A-Za-z0-9_.@-]{1,127}$")


@dataclass(frozen=True)
class PrintJob:
    card_serial: str
    queue: str
    sides: tuple[str, ...]
    job: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": "printed", "card_serial": self.card_serial, "queue": self.queue,
                "sides": list(self.sides), "job": self.job}


def check_card(card: dict[str, Any], *, printing: bool) -> None:
    """Only a personalized card that verifies (and is not revoked) is drawn; an expired one is
    still shown, but printed only while valid."""
    serial = card.get("card_serial", "?")
    if card.get("state") != "personalized" or not card.get("identity") or not card.get("residence"):
        raise errors.NotPersonalizedError(f"card {serial} is blank; it has no face to show")
    registry = card.get("registry") or {}
    # a produced card (not handed over yet) is printed too: production prints it, a clerk repeats
    if registry.get("status", "active") not in ("active", "produced"):
        raise errors.CardRevokedError(f"card {serial} is {registry['status']} in the registry")
    status = card.get("verification", {}).get("status")
    allowed = ("valid",) if printing else ("valid", "expired")
    if status not in allowed:
        raise errors.CardInvalidError(f"card {serial} is {status}; its face is not "
                                      f"{'printed' if printing else 'shown'}")


def render(face: Face, card: dict[str, Any], side: str, fmt: str,
           photo: bytes | None = None) -> bytes:
    """``face.render`` with the face's failures as service errors: what is printed."""
    with as_service_errors():
        return face.render(card, side, fmt, photo=photo)


#: The response header of a face shown although this site's layout cannot print all of it.
PROBLEMS_HEADER = "X-Face-Problems"


@dataclass(frozen=True)
class Shown:
    """A face drawn to be looked at, and the fields this site's layout cannot print as the card
    holds them (drawn anyway: a missing-glyph box, or cut with an ellipsis)."""

    data: bytes
    problems: tuple[tuple[str, str], ...]

    @property
    def header(self) -> str | None:
        """:data:`PROBLEMS_HEADER`'s value (``identity.name=does_not_fit, ...``); None: none."""
        return ", ".join(f"{f}={r}" for f, r in self.problems) or None


def show(face: Face, card: dict[str, Any], side: str, fmt: str) -> Shown:
    """``card``'s face to look at: drawn even where this site cannot print it (a card written
    under another layout or with other fonts), those fields named; a warning is logged."""
    with as_service_errors():
        problems = tuple(face.problems(card, side))
        data = face.render(card, side, fmt, lenient=True)
    if problems:
        logger.warning("card %s: this site's face layout cannot print %s as the card holds it; "
                       "shown anyway", card.get("card_serial", "?"),
                       ", ".join(f"{f} ({r})" for f, r in problems))
    return Shown(data, problems)


def print_card(face: Face, card: dict[str, Any], side: str, queue: str | None, *,
               photo: bytes | None = None, timeout: float = LP_TIMEOUT) -> PrintJob:
    """Render ``side`` of ``card`` as PDF and send it to the CUPS queue ``queue``."""
    if not queue:
        raise errors.ValidationError("printer", "no printer queue is configured "
                                     "(CARDSERVICE_PRINTER)", "not_configured")
    if not _QUEUE.match(queue):
        raise errors.ValidationError("printer", f"{queue!r} is not a CUPS queue name", "bad_format")
    check_card(card, printing=True)
    sides = sides_of(side)
    pdf = render(face, card, side, "pdf", photo)
    job = lp(pdf, queue, title=f"RP1 {card['card_serial']} {side}",
             media=_media(face), timeout=timeout)
    logger.info("printed the %s of card %s on %s (job %s)", "+".join(sides), card["card_serial"],
                queue, job)
    return PrintJob(card["card_serial"], queue, sides, job)


def _media(face: Face) -> str:
    layout = face.layout
    return f"Custom.{layout.width_mm:g}x{layout.height_mm:g}mm"


def lp(pdf: bytes, queue: str, *, title: str, media: str | None = None,
       timeout: float = LP_TIMEOUT) -> str:
    """``lp -d QUEUE`` with the PDF on standard input; the CUPS job id."""
    command = ["lp", "-d", queue, "-t", title]
    if media:
        command += ["-o", f"media={media}"]
    try:
        done = subprocess.run([*command, "-"], input=pdf, capture_output=True, timeout=timeout,
                              check=False)
    except FileNotFoundError as exc:
        raise errors.PrintError("lp is not installed (Debian package cups-client)") from exc
    except subprocess.TimeoutExpired as exc:
        raise errors.PrintError(f"lp -d {queue} did not answer within {timeout:g} s") from exc
    out = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise errors.PrintError(f"lp -d {queue} failed: {why}")
    found = re.search(r"request id is (\S+)", out)
    return found.group(1) if found else out.strip()
