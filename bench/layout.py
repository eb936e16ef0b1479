"""The fewest APDUs and bytes the RP1 layout allows for a read and for a re-sign.

Read: SELECT by AID returns the FCI carrying the serial and the card's counter, INTERNAL
AUTHENTICATE answers the host's challenge (the chip proves itself), then one extended READ BINARY
by SFI per data file (EF.ID, EF.RES_A, EF.RES_B) returns its used bytes: 5 APDUs. The bytes on
the wire can be no fewer than the payload (serial + used bytes of the three files + the chip's
proof: counter 4, challenge 16, signature 64) plus each APDU's fixed framing: SELECT = header 4
+ Lc 1 + AID + Le 1 + SW 2; INTERNAL AUTHENTICATE = header 4 + Lc 1 + Le 1 + SW 2; extended
READ BINARY = header 4 + Le 3 + SW 2.

Re-sign (after the read): serial re-check (GET DATA), GET CHALLENGE, EXTERNAL AUTHENTICATE,
UPDATE BINARY of the target slot, ERASE BINARY only when the old slot content is longer, and a
read-back of the slot: 5 or 6 APDUs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from card_layout.files import (
    AID,
    CHALLENGE_LEN,
    CHIP_CHALLENGE_LEN,
    CHIP_SIGNATURE_LEN,
    COUNTER_LEN,
    CRYPTOGRAM_LEN,
    SERIAL_LEN,
)

logger = logging.getLogger(__name__)

HEADER = 4
SW_LEN = 2
SHORT_LE = 1
EXT_LE = 3  # 00 HH LL when the command has no data
EXT_LC = 3  # 00 HH LL

SELECT_FRAMING = HEADER + 1 + len(AID) + SHORT_LE + SW_LEN
CHIP_AUTH_FRAMING = HEADER + 1 + SHORT_LE + SW_LEN
#: What the chip's proof adds to a read: its counter, the host's challenge, the signature.
CHIP_PROOF = COUNTER_LEN + CHIP_CHALLENGE_LEN + CHIP_SIGNATURE_LEN
EXT_READ_FRAMING = HEADER + EXT_LE + SW_LEN
READ_APDUS = 5


@dataclass(frozen=True)
class Minimum:
    apdus: int
    wire_bytes: int


def stored_payload(identity_len: int, slot_a_len: int, slot_b_len: int) -> int:
    """Serial + used bytes of the three data files + the chip's proof."""
    return SERIAL_LEN + identity_len + slot_a_len + slot_b_len + CHIP_PROOF


def read_minimum(identity_len: int, slot_a_len: int, slot_b_len: int) -> Minimum:
    payload = stored_payload(identity_len, slot_a_len, slot_b_len)
    return Minimum(READ_APDUS,
                   payload + SELECT_FRAMING + CHIP_AUTH_FRAMING + 3 * EXT_READ_FRAMING)


def resign_minimum(new_slot_len: int, old_slot_len: int) -> Minimum:
    """The write phase of a re-sign (the read before it is :func:`read_minimum`)."""
    get_serial = HEADER + SHORT_LE + SERIAL_LEN + SW_LEN
    challenge = HEADER + SHORT_LE + CHALLENGE_LEN + SW_LEN
    authenticate = HEADER + 1 + CRYPTOGRAM_LEN + SW_LEN
    update = HEADER + EXT_LC + new_slot_len + SW_LEN
    read_back = EXT_READ_FRAMING + new_slot_len
    apdus, wire = 5, get_serial + challenge + authenticate + update + read_back
    if old_slot_len > new_slot_len:
        apdus, wire = apdus + 1, wire + HEADER + SW_LEN
    return Minimum(apdus, wire)
