"""``cardservice card face`` (render the card's face to a file) and ``cardservice card print``
(print it through CUPS), and the print that follows a card write on the CLI."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click

from cardservice import errors
from cardservice.engine.service import Service
from cardservice.engine.views import card_dict
from cardservice.face import SIDE_CHOICES, Face
from cardservice.face.printing import SIDES_AFTER, check_card, print_card, show

logger = logging.getLogger(__name__)

PRINTER_ENV = "CARDSERVICE_PRINTER"

reader_opt = click.option("--reader", "reader", default=None,
                          help="Reader name (default: the only one with a card).")


def _face(svc: Service) -> Face:
    return Face(home=svc.home.root)


def _read(svc: Service, reader: str | None) -> dict[str, Any]:
    """The card as read and verified, with its photo (checked against the signed hash)."""
    with svc.connect(reader) as conn:
        return card_dict(svc.engine.read(conn, photo=True))


@click.command("face")
@reader_opt
@click.option("--side", required=True, type=click.Choice(SIDE_CHOICES),
              help="front, back, or both (PDF: one page per side; PNG: stacked).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.png (300 dpi) or FILE.pdf (exact card size).")
@click.pass_obj
def card_face(svc: Service, reader: str | None, side: str, out: Path) -> None:
    """Render the card's printed face to a PNG or PDF file."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf"):
        raise errors.ValidationError("out", f"{out.name} must end in .png or .pdf", "bad_format")
    card = _read(svc, reader)
    check_card(card, printing=False)
    shown = show(_face(svc), card, side, fmt)
    out.write_bytes(shown.data)
    click.echo(f"wrote the {side} of card {card['card_serial']} to {out} "
               f"({len(shown.data)} bytes)")
    for field, reason in shown.problems:
        click.echo(f"warning: this site's card face cannot print {field} ({reason}); it is "
                   "drawn with a missing-glyph box or cut short, and `card print` refuses it",
                   err=True)


@click.command("print")
@reader_opt
@click.option("--side", default="both", show_default=True, type=click.Choice(SIDE_CHOICES),
              help="After a failed re-sign or renewal print: back.")
@click.option("--printer", default=None, help=f"CUPS queue (default: ${PRINTER_ENV}).")
@click.pass_obj
def card_print(svc: Service, reader: str | None, side: str, printer: str | None) -> None:
    """Print the card's face as it reads now (repeats a failed print; the chip is not touched)."""
    card = _read(svc, reader)
    job = print_card(_face(svc), card, side, printer or os.environ.get(PRINTER_ENV))
    click.echo(f"printed the {side} of card {job.card_serial} on {job.queue} (job {job.job})")


def print_after_write(svc: Service, card: dict[str, Any], operation: str, *,
                      photo: bytes | None = None) -> None:
    """With ``CARDSERVICE_PRINTER`` set: print what ``operation`` changed on the face (both sides
    after an issue, the back after a re-sign or renewal). ``card`` is the verified read-back."""
    queue = os.environ.get(PRINTER_ENV)
    if not queue:
        return
    side = SIDES_AFTER[operation]
    try:
        job = print_card(_face(svc), card, side, queue, photo=photo)
    except errors.PrintError as exc:
        raise errors.PrintError(
            f"card {card['card_serial']} was written and verified, but printing failed: "
            f"{exc.message}; print it again with `cardservice card print --side {side}`"
        ) from exc
    click.echo(f"printed the {side} of card {job.card_serial} on {job.queue} (job {job.job})",
               err=True)
