"""The two erasable-record slots EF.RES_A / EF.RES_B (frame "RS" around record + signature).

A re-sign writes the slot that is not current, so a torn write leaves the current one intact.
The current slot is the one that decodes with the highest sequence (slot A on a tie).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import FormatError
from .files import Fid
from .frame import decode_frame, encode_frame
from .record import ResidenceRecord, encode_record, record_from_tlvs
from .signature import SignatureBlock, encode_signature_block, split_signature
from .tlv import parse_tlvs

logger = logging.getLogger(__name__)

MAGIC = b"RS"


def encode_slot(record: ResidenceRecord, sig: SignatureBlock) -> bytes:
    return encode_frame(MAGIC, encode_record(record) + encode_signature_block(sig))


def decode_slot(data: bytes) -> tuple[ResidenceRecord, SignatureBlock]:
    """(record, signature block); FormatError("unsigned") for a well-formed unsigned record."""
    items, sig = split_signature(parse_tlvs(decode_frame(MAGIC, data)))
    record = record_from_tlvs(items)
    if sig is None:
        raise FormatError("unsigned", "the slot holds no signature block")
    return record, sig


@dataclass(frozen=True)
class SlotState:
    fid: Fid
    record: ResidenceRecord | None
    signature: SignatureBlock | None
    error: FormatError | None

    @property
    def valid(self) -> bool:
        return self.record is not None


def read_slot(fid: Fid, data: bytes) -> SlotState:
    try:
        record, sig = decode_slot(data)
    except FormatError as exc:
        logger.debug("slot %s does not decode: %s", fid.name, exc.reason)
        return SlotState(fid, None, None, exc)
    return SlotState(fid, record, sig, None)


def read_slots(slot_a: bytes, slot_b: bytes) -> tuple[SlotState, SlotState]:
    return read_slot(Fid.RES_A, slot_a), read_slot(Fid.RES_B, slot_b)


def current_slot(states: tuple[SlotState, SlotState]) -> SlotState | None:
    """The decodable slot with the highest sequence (A on a tie); None if neither decodes."""
    valid = [
        (state.record.sequence, -i, state)
        for i, state in enumerate(states)
        if state.record is not None
    ]
    return max(valid, key=lambda item: item[:2])[2] if valid else None


def next_slot(states: tuple[SlotState, SlotState]) -> Fid:
    """The slot the next write goes to: the one that is not current (RES_A if none is)."""
    current = current_slot(states)
    if current is None:
        return Fid.RES_A
    return Fid.RES_B if current.fid == Fid.RES_A else Fid.RES_A
