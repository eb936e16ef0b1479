"""The chip's own proof (INTERNAL AUTHENTICATE) and its record-write counter (docs/card-os.md).

At personalization the card generates an ECDSA P-256 key pair (GENERATE KEY PAIR); its public
key goes into the signed identity (tag 0x07). INTERNAL AUTHENTICATE answers a host challenge with
an ECDSA P-256 / SHA-256 signature, r || s, over

    "RP1-CHIP-AUTH-v1\\x00" (17) || serial (8) || counter (4, big-endian) || challenge (16)

so a verifier with public material only checks that this very chip (not a copy of its readable
bytes) answers, and that the counter the card reported in its SELECT answer is the chip's own.

The card increments the counter itself after an UPDATE BINARY on EF.RES_A or EF.RES_B that
completes a record: the update wrote the frame's last byte and the EF then starts with a whole,
CRC-correct "RS" frame (:func:`completes_record`). A torn write never counts.
"""

from __future__ import annotations

import logging

from .errors import FormatError
from .files import CHIP_CHALLENGE_LEN, COUNTER_LEN, SERIAL_LEN
from .frame import HEADER_LEN, decode_frame
from .slots import MAGIC as SLOT_MAGIC

logger = logging.getLogger(__name__)

CHIP_AUTH_TAG = b"RP1-CHIP-AUTH-v1\x00"
COUNTER_MAX = 2**32 - 1


def chip_auth_tbs(serial: bytes, counter: int, challenge: bytes) -> bytes:
    """The bytes the chip signs in INTERNAL AUTHENTICATE."""
    if len(serial) != SERIAL_LEN:
        raise ValueError(f"serial must be {SERIAL_LEN} bytes")
    if len(challenge) != CHIP_CHALLENGE_LEN:
        raise ValueError(f"challenge must be {CHIP_CHALLENGE_LEN} bytes")
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError("counter out of range")
    return CHIP_AUTH_TAG + bytes(serial) + counter.to_bytes(COUNTER_LEN, "big") + bytes(challenge)


def completes_record(content: bytes, offset: int, written: int) -> bool:
    """True when an update of ``written`` bytes at ``offset`` wrote the last byte of the frame
    at the start of ``content`` (the EF's data) and that frame is a whole, CRC-correct slot."""
    if len(content) < HEADER_LEN or content[:2] != SLOT_MAGIC:
        return False
    end = int.from_bytes(content[3:5], "big")
    if not offset < end <= offset + written:
        return False
    try:
        decode_frame(SLOT_MAGIC, content)
    except FormatError:
        return False
    return True
