"""GET CHALLENGE, EXTERNAL AUTHENTICATE (AES-CMAC cryptogram) and LOCK IDENTITY."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from card_layout.auth import cryptogram
from card_layout.files import AUTH_TRIES, CHALLENGE_LEN, CRYPTOGRAM_LEN, KeyRef

from .command import Command
from .status import Sw, SwError, tries_left, wrong_le

if TYPE_CHECKING:
    from .card_os import CardOS

logger = logging.getLogger(__name__)


def get_challenge(card: CardOS, cmd: Command) -> bytes:
    if (cmd.p1, cmd.p2) != (0, 0):
        raise SwError(Sw.INCORRECT_P1P2)
    if cmd.data or cmd.ne is None:
        raise SwError(Sw.WRONG_LENGTH)
    if cmd.ne != CHALLENGE_LEN and not cmd.le_is_max:
        raise SwError(wrong_le(CHALLENGE_LEN))
    card.require_app()
    challenge = bytes(card.rng(CHALLENGE_LEN))
    card.ram.challenge = challenge
    return challenge


def external_authenticate(card: CardOS, cmd: Command) -> bytes:
    """Check AES-CMAC(card key, last challenge); the challenge is used up by any attempt."""
    if cmd.p1 != 0 or cmd.p2 not in KeyRef._value2member_map_:
        raise SwError(Sw.INCORRECT_P1P2)
    if len(cmd.data) != CRYPTOGRAM_LEN:
        raise SwError(Sw.WRONG_LENGTH)
    card.require_app()
    ref = KeyRef(cmd.p2)
    challenge, card.ram.challenge = card.ram.challenge, None
    image = card.image
    if image.tries[ref] == 0:
        raise SwError(Sw.AUTH_BLOCKED)
    if challenge is None:
        raise SwError(Sw.CONDITIONS_NOT_SATISFIED)
    if hmac.compare_digest(cryptogram(image.keys[ref], challenge), cmd.data):
        if image.tries[ref] != AUTH_TRIES:
            image.tries[ref] = AUTH_TRIES
            image.save()
        card.ram.authenticated.add(ref)
        return b""
    card.ram.authenticated.discard(ref)
    image.tries[ref] -= 1
    image.save()
    logger.info("wrong cryptogram for key %s, %d tries left", ref.name, image.tries[ref])
    raise SwError(Sw.AUTH_BLOCKED if image.tries[ref] == 0 else tries_left(image.tries[ref]))


def lock_identity(card: CardOS, cmd: Command) -> bytes:
    """``80 1C 00 00``: EF.ID becomes read-only for good."""
    if (cmd.p1, cmd.p2) != (0, 0):
        raise SwError(Sw.INCORRECT_P1P2)
    if cmd.data or cmd.ne is not None:
        raise SwError(Sw.WRONG_LENGTH)
    card.require_app()
    if KeyRef.PERSONALIZATION not in card.ram.authenticated:
        raise SwError(Sw.SECURITY_NOT_SATISFIED)
    if card.image.locked:
        raise SwError(Sw.CONDITIONS_NOT_SATISFIED)
    card.image.locked = True
    card.image.save()
    return b""
