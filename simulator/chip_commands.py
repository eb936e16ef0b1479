"""GENERATE KEY PAIR (the chip's own P-256 key, before the identity lock) and INTERNAL
AUTHENTICATE (the chip signs the host's challenge with it; card_layout/chip.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from card_layout.chip import chip_auth_tbs
from card_layout.files import CHIP_CHALLENGE_LEN, KeyRef

from .command import Command
from .status import Sw, SwError

if TYPE_CHECKING:
    from .card_os import CardOS

logger = logging.getLogger(__name__)

_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def chip_private_key(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def public_point(scalar: bytes) -> bytes:
    """The uncompressed point 04 || X || Y of the chip key ``scalar``."""
    return chip_private_key(scalar).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def new_scalar(rng_bytes: bytes) -> bytes:
    """A private scalar in 1..n-1 from 40 random bytes (bias below 2^-64)."""
    return (int.from_bytes(rng_bytes, "big") % (_P256_ORDER - 1) + 1).to_bytes(32, "big")


def generate_key_pair(card: CardOS, cmd: Command) -> bytes:
    """``80 46 00 00 00``: a new chip key pair (replacing an earlier one); answers the public
    point. Needs key 01; refused once the identity is locked (the key is then fixed for good)."""
    if (cmd.p1, cmd.p2) != (0, 0):
        raise SwError(Sw.INCORRECT_P1P2)
    if cmd.data or cmd.ne is None:
        raise SwError(Sw.WRONG_LENGTH)
    card.require_app()
    if card.image.locked:
        raise SwError(Sw.CONDITIONS_NOT_SATISFIED)
    if KeyRef.PERSONALIZATION not in card.ram.authenticated:
        raise SwError(Sw.SECURITY_NOT_SATISFIED)
    card.image.chip_key = new_scalar(bytes(card.rng(40)))
    card.image.save()
    return public_point(card.image.chip_key)


def internal_authenticate(card: CardOS, cmd: Command) -> bytes:
    """``00 88 00 00 10 <challenge> 00``: ECDSA P-256 r || s over card_layout.chip's TBS
    (serial, the counter of the SELECT answer, the challenge). No key pair yet: 6A88."""
    if (cmd.p1, cmd.p2) != (0, 0):
        raise SwError(Sw.INCORRECT_P1P2)
    if len(cmd.data) != CHIP_CHALLENGE_LEN or cmd.ne is None:
        raise SwError(Sw.WRONG_LENGTH)
    card.require_app()
    image = card.image
    if image.chip_key is None:
        raise SwError(Sw.DATA_NOT_FOUND)
    tbs = chip_auth_tbs(image.serial, image.counter, cmd.data)
    der = chip_private_key(image.chip_key).sign(tbs, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
