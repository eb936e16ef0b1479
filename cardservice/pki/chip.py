"""The check of a chip's INTERNAL AUTHENTICATE answer with public material only: the chip's
P-256 public key from the signed identity (docs/card-os.md, "Chip authentication")."""

from __future__ import annotations

import functools
import logging

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from card_layout.chip import chip_auth_tbs
from card_layout.files import CHIP_SIGNATURE_LEN

logger = logging.getLogger(__name__)

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def chip_answer_valid(public_point: bytes, serial: bytes, counter: int, challenge: bytes,
                      answer: bytes) -> bool:
    """True when ``answer`` (r || s) is the chip key's ECDSA P-256 / SHA-256 signature over
    the chip-auth bytes of ``serial``, ``counter`` and ``challenge``. Never raises."""
    if len(answer) != CHIP_SIGNATURE_LEN:
        return False
    try:
        key = _chip_key(bytes(public_point))
        der = encode_dss_signature(int.from_bytes(answer[:32], "big"),
                                   int.from_bytes(answer[32:], "big"))
        key.verify(der, chip_auth_tbs(serial, counter, challenge), _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _chip_key(public_point: bytes) -> ec.EllipticCurvePublicKey:
    """The chip's public key object (decoding and checking the point costs as much as a third
    of the verification; a card read again reuses it). Raises ValueError for a bad point."""
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
