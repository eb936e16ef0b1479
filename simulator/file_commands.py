"""READ BINARY, UPDATE BINARY and ERASE BINARY on the RP1 transparent EFs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from card_layout.chip import COUNTER_MAX, completes_record
from card_layout.files import MAX_DATA_FIELD, SFI, SLOTS, Fid, KeyRef

from .command import Command
from .faults import PowerLost
from .image import ElementaryFile
from .status import Sw, SwError, WarningAnswer

if TYPE_CHECKING:
    from .card_os import CardOS

logger = logging.getLogger(__name__)

_BY_SFI = {sfi: fid for fid, sfi in SFI.items()}
_WRITE_KEY = {Fid.ID: KeyRef.PERSONALIZATION, Fid.PHOTO: KeyRef.PERSONALIZATION,
              Fid.RES_A: KeyRef.WRITE, Fid.RES_B: KeyRef.WRITE}


def address(card: CardOS, cmd: Command) -> tuple[Fid, int]:
    """The EF and offset of P1 P2: b8 of P1 set -> SFI in P1 b5..b1 and offset in P2 (the EF
    becomes current); else a 15-bit offset in the current EF."""
    if cmd.p1 & 0x80:
        if cmd.p1 & 0x60:
            raise SwError(Sw.INCORRECT_P1P2)
        fid = _BY_SFI.get(cmd.p1 & 0x1F)
        if fid is None or not card.ram.app_selected:
            raise SwError(Sw.NOT_FOUND)
        card.ram.current = fid
        return fid, cmd.p2
    if card.ram.current is None:
        raise SwError(Sw.NO_CURRENT_EF)
    return card.ram.current, (cmd.p1 << 8) | cmd.p2


def read_binary(card: CardOS, cmd: Command) -> bytes:
    if cmd.data or cmd.ne is None:
        raise SwError(Sw.WRONG_LENGTH)
    fid, offset = address(card, cmd)
    ef = card.image.files[fid]
    if offset > ef.length:
        raise SwError(Sw.WRONG_P1P2)
    data = bytes(ef.memory[offset: min(offset + cmd.ne, ef.length)])
    if len(data) < cmd.ne and not cmd.le_is_max:
        raise WarningAnswer(data, Sw.END_OF_FILE)
    return data


def check_write_access(card: CardOS, fid: Fid) -> None:
    """EF.CARD: never (6985). EF.ID and EF.PHOTO: personalization key, identity not locked
    (6985 once locked). EF.RES_A/B: write key. Not authenticated -> 6982."""
    if fid == Fid.CARD or (fid in (Fid.ID, Fid.PHOTO) and card.image.locked):
        raise SwError(Sw.CONDITIONS_NOT_SATISFIED)
    if _WRITE_KEY[fid] not in card.ram.authenticated:
        raise SwError(Sw.SECURITY_NOT_SATISFIED)


def update_binary(card: CardOS, cmd: Command) -> bytes:
    if not cmd.data or cmd.ne is not None or len(cmd.data) > MAX_DATA_FIELD:
        raise SwError(Sw.WRONG_LENGTH)
    fid, offset = address(card, cmd)
    check_write_access(card, fid)
    ef = card.image.files[fid]
    if offset > ef.length:
        raise SwError(Sw.WRONG_P1P2)
    if offset + len(cmd.data) > ef.capacity:
        raise SwError(Sw.NOT_ENOUGH_MEMORY)
    card.update_count += 1
    cut = card.update_cut_point()
    _land_bytes(ef, offset, cmd.data if cut is None else cmd.data[:cut])
    if cut is None and fid in SLOTS and completes_record(ef.data, offset, len(cmd.data)):
        # the card's own record-write counter, in the same EEPROM transaction as the last byte
        card.image.counter = min(card.image.counter + 1, COUNTER_MAX)
    card.image.save()
    if cut is not None:
        logger.info("power cut in UPDATE BINARY of %04X after %d bytes", fid, cut)
        raise PowerLost(f"power lost after {min(cut, len(cmd.data))} bytes")
    return b""


def _land_bytes(ef: ElementaryFile, offset: int, data: bytes) -> None:
    """EEPROM order: byte by byte from ``offset``; each landed byte extends the data length."""
    for i, value in enumerate(data):
        ef.memory[offset + i] = value
        ef.length = max(ef.length, offset + i + 1)


def erase_binary(card: CardOS, cmd: Command) -> bytes:
    """Erase from the offset to the end, atomically: the data length becomes the offset."""
    if cmd.data or cmd.ne is not None:
        raise SwError(Sw.WRONG_LENGTH)
    fid, offset = address(card, cmd)
    check_write_access(card, fid)
    ef = card.image.files[fid]
    if offset > ef.length:
        raise SwError(Sw.WRONG_P1P2)
    ef.memory[offset:] = bytes(ef.capacity - offset)
    ef.length = offset
    card.image.save()
    return b""
