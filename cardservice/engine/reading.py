"""A card read for verification: the card's files in one transaction, with the chip's answer
checked while the read goes on.

The read sends SELECT, READ BINARY of EF.ID, INTERNAL AUTHENTICATE, then READ BINARY of the two
record slots. Once the chip has answered, its ECDSA check (the largest part of a read's own
work) starts on a helper thread (:func:`cardservice.pki.chip.check_soon`) with the chip's key
from the identity as read, and runs while the two slots travel; the verification then takes its
result. The identity's own checks come later and decide whether that key is the card's. Only
a connection that waits for its card (PC/SC) does this: with a card played in this process the
hand-over to the helper costs more than the two APDUs take (measured: 0.36-0.43 ms against
0.26 ms per read in-process, docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import logging

from card_layout.errors import FieldError, FormatError
from card_layout.idfile import decode_identity_body
from cardservice.card.protocol import CardFiles, CardInfo, Rp1Card
from cardservice.pki import chip
from cardservice.transport import CardConnection

logger = logging.getLogger(__name__)

#: identity files whose chip key is kept (a card read again is not decoded again)
CHIP_KEYS = 256


def read_files(conn: CardConnection, *, photo: bool = False) -> CardFiles:
    """The card's files (5 APDUs; EF.PHOTO too, one more, when ``photo``) in one transaction."""
    card = Rp1Card(conn)
    if conn.waits_for_card:  # a card in this process leaves no wait to fill
        card.on_chip_answer = start_chip_check
    chip.read_started()
    try:
        return conn.exclusive(lambda: card.read_all(photo=photo))
    finally:
        chip.read_ended()


def start_chip_check(info: CardInfo, id_file: bytes, challenge: bytes, answer: bytes) -> None:
    """Start checking the chip's answer: the chip's key from the identity file as read, the
    serial and counter from the SELECT answer. Nothing is started for an identity that does
    not decode (its verification says why). Never raises: the read goes on either way."""
    point = _chip_key(bytes(id_file))
    if point is None or info.counter is None:
        return
    try:
        chip.check_soon(point, info.serial, info.counter, challenge, answer)
    except Exception:  # no helper to be had (shutting down, no thread): the read checks it
        logger.debug("chip check not started early", exc_info=True)


@functools.lru_cache(maxsize=CHIP_KEYS)
def _chip_key(id_file: bytes) -> bytes | None:
    try:
        return decode_identity_body(id_file)[0].chip_public_key
    except (FormatError, FieldError):
        return None
