"""Before a CLI write: read the card, name it, and (on a terminal) let the technician confirm;
the write then names that card, so a card swapped in meanwhile is refused (CARD_CHANGED)."""

from __future__ import annotations

import logging
import sys

import click

from cardservice import errors
from cardservice.engine.service import Service

logger = logging.getLogger(__name__)


def confirm_card(svc: Service, conn, card_serial: str | None, yes: bool) -> bytes:
    """Read the card first and name it; the write then refuses any other card (CARD_CHANGED).
    With ``--card-serial`` the card must be that one; on a terminal the technician confirms."""
    view = svc.engine.read(conn)
    if card_serial is not None:
        try:
            wanted = bytes.fromhex(card_serial)
        except ValueError:
            raise errors.ValidationError("card_serial", "must be 16 hex digits", "bad_format") from None
        if wanted != view.serial:
            raise errors.CardChangedError(f"the card in the reader is {view.serial.hex()}, not "
                                          f"{card_serial.lower()}; nothing written")
    identity = view.report.identity
    holder = f"{identity.name}, {identity.citizen_number}" if identity else "blank"
    if not yes and sys.stdin.isatty():
        click.echo(f"card {view.serial.hex()} ({holder})", err=True)
        click.confirm("write to this card?", abort=True, err=True)
    else:
        logger.info("writing to card %s (%s)", view.serial.hex(), holder)
    return view.serial
