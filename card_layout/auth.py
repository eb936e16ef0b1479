"""Card key diversification and the EXTERNAL AUTHENTICATE cryptogram (AES-128 CMAC).

card key  = AES-CMAC(master key, card serial)            (16 bytes, one per card and key ref)
cryptogram = AES-CMAC(card key, last GET CHALLENGE answer) (16 bytes)
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

KEY_LEN = 16


def cmac(key: bytes, data: bytes) -> bytes:
    if len(key) != KEY_LEN:
        raise ValueError("AES-128 key must be 16 bytes")
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def diversify(master_key: bytes, serial: bytes) -> bytes:
    """The card's own key for one key reference, from the master key and the card serial."""
    return cmac(master_key, serial)


def cryptogram(card_key: bytes, challenge: bytes) -> bytes:
    """What EXTERNAL AUTHENTICATE sends for ``challenge``."""
    return cmac(card_key, challenge)
