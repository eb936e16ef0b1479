"""SELECT (by AID and by FID), GET DATA (card serial) and GET RESPONSE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from card_layout.files import (
    AID,
    CAPACITY,
    FCI_TAG_COUNTER,
    FCI_TAG_SERIAL,
    FCI_TAG_STATE,
    SFI,
    STATE_LOCKED,
    STATE_OPEN,
    Fid,
)

from .command import Command
from .status import Sw, SwError, WarningAnswer, wrong_le
from .tlv import tlv

if TYPE_CHECKING:
    from .card_os import CardOS

#: Largest command or response data field the card announces (FCI tag C2).
P2_FCI, P2_FCP, P2_NO_DATA = 0x00, 0x04, 0x0C
GET_DATA_SERIAL_TAG = 0xC0


def select(card: CardOS, cmd: Command) -> bytes:
    if cmd.p1 == 0x04:
        return _select_aid(card, cmd)
    if cmd.p1 in (0x00, 0x02):
        return _select_fid(card, cmd)
    raise SwError(Sw.INCORRECT_P1P2)


def _select_aid(card: CardOS, cmd: Command) -> bytes:
    if cmd.p2 not in (P2_FCI, P2_NO_DATA):
        raise SwError(Sw.INCORRECT_P1P2)
    if not cmd.data:
        raise SwError(Sw.WRONG_LENGTH)
    if cmd.data != AID:
        card.deselect()
        raise SwError(Sw.NOT_FOUND)
    card.reset_application()
    return fci(card) if cmd.p2 == P2_FCI else b""


def fci(card: CardOS) -> bytes:
    image = card.image
    state = STATE_LOCKED if image.locked else STATE_OPEN
    # compact on purpose: it is read on every card read (the AID was just sent; the largest
    # data field is the profile's MAX_DATA_FIELD)
    proprietary = (tlv(FCI_TAG_SERIAL, image.serial) + tlv(FCI_TAG_STATE, bytes([state]))
                   + tlv(FCI_TAG_COUNTER, image.counter.to_bytes(4, "big")))
    return tlv(0x6F, tlv(0xA5, proprietary))


def _select_fid(card: CardOS, cmd: Command) -> bytes:
    if cmd.p2 not in (P2_FCI, P2_FCP, P2_NO_DATA):
        raise SwError(Sw.INCORRECT_P1P2)
    if len(cmd.data) != 2:
        raise SwError(Sw.WRONG_LENGTH)
    fid_value = int.from_bytes(cmd.data, "big")
    if not card.ram.app_selected or fid_value not in Fid._value2member_map_:
        raise SwError(Sw.NOT_FOUND)
    fid = Fid(fid_value)
    card.ram.current = fid
    return b"" if cmd.p2 == P2_NO_DATA else fcp(card, fid)


def fcp(card: CardOS, fid: Fid) -> bytes:
    ef = card.image.files[fid]
    body = (tlv(0x80, ef.length.to_bytes(2, "big")) + tlv(0x81, CAPACITY[fid].to_bytes(2, "big"))
            + tlv(0x82, b"\x01") + tlv(0x83, fid.to_bytes(2, "big"))
            + tlv(0x88, bytes([SFI[fid]])) + tlv(0x8A, b"\x05"))
    return tlv(0x62, body)


def get_data(card: CardOS, cmd: Command) -> bytes:
    """``FF CA 00 00 Le`` (a contactless reader's GET UID) or ``00 CA 00 C0 Le``: the serial."""
    if cmd.cla == 0xFF and (cmd.p1, cmd.p2) != (0x00, 0x00):
        raise SwError(Sw.INCORRECT_P1P2)
    if cmd.cla == 0x00 and (cmd.p1, cmd.p2) != (0x00, GET_DATA_SERIAL_TAG):
        raise SwError(Sw.DATA_NOT_FOUND)
    if cmd.data or cmd.ne is None:
        raise SwError(Sw.WRONG_LENGTH)
    serial = card.image.serial
    if cmd.le_is_max or cmd.ne == len(serial):
        return serial
    if cmd.ne < len(serial):
        raise SwError(wrong_le(len(serial)))
    raise WarningAnswer(serial, Sw.END_OF_FILE)


def get_response(card: CardOS, cmd: Command) -> bytes:
    """The card never answers 61xx, so no response is ever pending."""
    raise SwError(Sw.CONDITIONS_NOT_SATISFIED)
