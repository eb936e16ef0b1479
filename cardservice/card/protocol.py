"""The RP1 card protocol: the APDUs that read and write an RP1 residence-permit card.

This layer knows which commands the card understands and what its status words mean; it knows
nothing of records or signatures (that is :mod:`card_layout` and :mod:`cardservice.engine.verify`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from card_layout import auth
from card_layout.files import (
    AID,
    CAPACITY,
    CHIP_CHALLENGE_LEN,
    CHIP_PUBLIC_KEY_LEN,
    CHIP_SIGNATURE_LEN,
    CLA_PROPRIETARY,
    FCI_TAG_COUNTER,
    FCI_TAG_MAX_APDU,
    FCI_TAG_SERIAL,
    FCI_TAG_STATE,
    MAX_DATA_FIELD,
    SERIAL_LEN,
    SFI,
    STATE_LOCKED,
    Fid,
    Ins,
    KeyRef,
)
from cardservice import errors
from cardservice.card.apdu import SHORT_MAX_LC, SW, Apdu, ApduError, send, transceive
from cardservice.transport import CardConnection

logger = logging.getLogger(__name__)


class CardKeyHandle(Protocol):
    """A card key that never leaves where it is kept: it only answers a challenge."""

    def cryptogram(self, challenge: bytes) -> bytes: ...

EXTENDED_NE = 65536
SHORT_NE = 256

#: the commands of every read, encoded once: SELECT of the RP1 application and the extended
#: READ BINARY of each file by its SFI
_SELECT = Apdu(0x00, Ins.SELECT, 0x04, 0x00, AID, SHORT_NE)
_SELECT_BYTES = _SELECT.encode()
_READ_EXTENDED = {fid: Apdu(0x00, Ins.READ_BINARY, 0x80 | sfi, 0, ne=EXTENDED_NE)
                  for fid, sfi in SFI.items()}
_READ_EXTENDED_BYTES = {fid: cmd.encode(extended=True) for fid, cmd in _READ_EXTENDED.items()}


@dataclass(frozen=True)
class CardInfo:
    """What SELECT of the RP1 application tells: serial, lock state, the largest data field and
    the card's record-write counter (None: a card OS without one)."""

    serial: bytes
    locked: bool
    max_data: int
    counter: int | None = None


@dataclass(frozen=True)
class CardFiles:
    """The raw contents of the RP1 files, as read in one pass."""

    info: CardInfo
    identity: bytes
    slot_a: bytes
    slot_b: bytes
    chip_challenge: bytes | None = None  # what the host sent in INTERNAL AUTHENTICATE
    chip_answer: bytes | None = None  # the chip's signature; None if it gave none
    photo: bytes | None = None  # EF.PHOTO, read only on request

    @property
    def serial(self) -> bytes:
        return self.info.serial

    def slot(self, fid: Fid) -> bytes:
        return self.slot_a if fid == Fid.RES_A else self.slot_b


def _simple_tlv(data: bytes) -> dict[int, bytes]:
    """Parse one level of BER-TLV with one-byte tags (enough for the RP1 FCI)."""
    out: dict[int, bytes] = {}
    i = 0
    while i + 2 <= len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length == 0x81 and i < len(data):
            length, i = data[i], i + 1
        out[tag] = data[i : i + length]
        i += length
    return out


@functools.lru_cache(maxsize=256)
def parse_fci(fci: bytes) -> CardInfo:
    """The card's SELECT answer decoded (a pure function of its bytes, kept for the cards
    recently read: the answer changes only when the card's counter does)."""
    outer = _simple_tlv(fci).get(0x6F)
    if outer is None:
        raise errors.CardProtocolError("SELECT answered without an FCI template")
    proprietary = _simple_tlv(_simple_tlv(outer).get(0xA5, b""))
    serial = proprietary.get(FCI_TAG_SERIAL, b"")
    if len(serial) != SERIAL_LEN:
        raise errors.CardProtocolError("the FCI carries no card serial")
    state = proprietary.get(FCI_TAG_STATE, b"\x00")
    declared = proprietary.get(FCI_TAG_MAX_APDU)
    max_data = int.from_bytes(declared, "big") if declared else MAX_DATA_FIELD
    counter = proprietary.get(FCI_TAG_COUNTER)
    counter_value = int.from_bytes(counter, "big") if counter and len(counter) == 4 else None
    return CardInfo(serial, state[:1] == bytes([STATE_LOCKED]), max_data, counter_value)


@functools.lru_cache(maxsize=64)
def atr_supports_extended(atr: bytes) -> bool:
    """True when the ATR's card-capabilities object (compact TLV 0x73) announces extended Lc/Le."""
    if len(atr) < 2:
        return False
    t0 = atr[1]
    hist_len = t0 & 0x0F
    i, y = 2, t0 >> 4
    while True:  # skip the interface bytes
        i += (y & 0x0F).bit_count()
        if y & 0x08 and i - 1 < len(atr):
            y = atr[i - 1] >> 4
        else:
            break
    hist = atr[i : i + hist_len]
    if not hist or hist[0] != 0x80:
        return False
    j = 1
    while j < len(hist):
        tag, length = hist[j] >> 4, hist[j] & 0x0F
        value = hist[j + 1 : j + 1 + length]
        if tag == 0x7 and length >= 3:
            return bool(value[2] & 0x40)
        j += 1 + length
    return False


class Rp1Card:
    """Commands of the RP1 application over any :class:`CardConnection`."""

    def __init__(self, conn: CardConnection, *, extended: bool | None = None) -> None:
        self.conn = conn
        self.extended = atr_supports_extended(conn.atr) if extended is None else extended
        self.info: CardInfo | None = None
        #: called in read_all once the chip has answered, before the records are read:
        #: ``(info, identity file, challenge, answer)`` (the engine starts the chip check)
        self.on_chip_answer: Callable[[CardInfo, bytes, bytes, bytes], None] | None = None

    # --- reading ------------------------------------------------------------------------

    def select(self) -> CardInfo:
        try:
            fci = send(self.conn, _SELECT, name="SELECT", encoded=_SELECT_BYTES)
        except ApduError as exc:
            if exc.sw == SW.FILE_NOT_FOUND:
                raise errors.NotRp1CardError() from exc
            raise
        self.info = parse_fci(fci)
        if not self.extended or self.info.max_data < 512:
            self.extended = False
        return self.info

    def read_file(self, fid: Fid) -> bytes:
        """The whole content of ``fid`` (one APDU with extended length)."""
        if self.extended:
            return send(self.conn, _READ_EXTENDED[fid], extended=True, name="READ BINARY",
                        encoded=_READ_EXTENDED_BYTES[fid])
        return self._read_short(fid)

    def _read_short(self, fid: Fid) -> bytes:
        buf = bytearray(send(self.conn, Apdu(0, Ins.READ_BINARY, 0x80 | SFI[fid], 0, ne=SHORT_NE),
                             name="READ BINARY"))
        while len(buf) % SHORT_NE == 0 and 0 < len(buf) < CAPACITY[fid]:
            off = len(buf)
            chunk = send(self.conn, Apdu(0, Ins.READ_BINARY, off >> 8, off & 0xFF, ne=SHORT_NE),
                         name="READ BINARY")
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def read_all(self, *, photo: bool = False) -> CardFiles:
        """SELECT (serial, state and counter from the FCI), READ BINARY of EF.ID, INTERNAL
        AUTHENTICATE with a fresh host challenge (when the FCI shows a counter, i.e. a card OS
        with a chip key; then ``on_chip_answer``), and the two record slots: 5 APDUs with
        extended length; EF.PHOTO too when ``photo``: one more."""
        info = self.select()
        identity = self.read_file(Fid.ID)
        challenge = answer = None
        if info.counter is not None:
            challenge = os.urandom(CHIP_CHALLENGE_LEN)
            answer = self.internal_authenticate(challenge)
            if answer is not None and self.on_chip_answer is not None:
                self.on_chip_answer(info, identity, challenge, answer)
        files = CardFiles(info, identity, self.read_file(Fid.RES_A),
                          self.read_file(Fid.RES_B), challenge, answer)
        if photo:
            files = dataclasses.replace(files, photo=self.read_file(Fid.PHOTO))
        return files

    def internal_authenticate(self, challenge: bytes) -> bytes | None:
        """The chip's signature over its serial, counter and ``challenge``; None when the card
        has no key pair (6A88) or does not know the command."""
        data, sw = transceive(self.conn, Apdu(0, Ins.INTERNAL_AUTHENTICATE, 0, 0, challenge,
                                              SHORT_NE), name="INTERNAL AUTHENTICATE")
        if sw == SW.OK and len(data) == CHIP_SIGNATURE_LEN:
            return data
        if sw in (SW.OK, SW.DATA_NOT_FOUND, SW.INS_NOT_SUPPORTED, SW.CLA_NOT_SUPPORTED):
            return None
        raise ApduError(sw, "INTERNAL AUTHENTICATE")

    def generate_key_pair(self) -> bytes:
        """A new chip key pair (key 01 authenticated, identity open): its public point."""
        point = send(self.conn, Apdu(CLA_PROPRIETARY, Ins.GENERATE_KEY_PAIR, 0, 0, ne=SHORT_NE),
                     name="GENERATE KEY PAIR")
        if len(point) != CHIP_PUBLIC_KEY_LEN or point[0] != 0x04:
            raise errors.CardProtocolError("GENERATE KEY PAIR returned no P-256 point")
        return point

    def get_serial(self) -> bytes:
        serial = send(self.conn, Apdu(0xFF, Ins.GET_DATA, 0, 0, ne=SHORT_NE), name="GET DATA")
        if len(serial) != SERIAL_LEN:
            raise errors.CardProtocolError("GET DATA returned no 8-byte serial")
        return serial

    # --- writing ------------------------------------------------------------------------

    def authenticate(self, keyref: KeyRef, card_key: bytes | CardKeyHandle) -> None:
        """EXTERNAL AUTHENTICATE with the card key, given as bytes or as a handle whose
        ``cryptogram(challenge)`` computes it where the key is (a PKCS#11 token)."""
        challenge = send(self.conn, Apdu(0, Ins.GET_CHALLENGE, 0, 0, ne=8), name="GET CHALLENGE")
        if isinstance(card_key, bytes | bytearray):
            cryptogram = auth.cryptogram(bytes(card_key), challenge)
        else:
            cryptogram = card_key.cryptogram(challenge)
        _, sw = transceive(self.conn, Apdu(0, Ins.EXTERNAL_AUTHENTICATE, 0, keyref, cryptogram))
        if sw == SW.OK:
            return
        if sw == SW.AUTH_BLOCKED:
            raise errors.CardAuthBlockedError(f"key {keyref.name.lower()} is blocked on this card")
        if sw & 0xFFF0 == 0x63C0:
            raise errors.CardAuthError(
                f"the card refused the {keyref.name.lower()} key ({sw & 0x0F} tries left)"
            )
        raise ApduError(sw, "EXTERNAL AUTHENTICATE")

    def write_file(self, fid: Fid, data: bytes, *, old_length: int | None = None) -> None:
        """Write ``data`` at offset 0 of ``fid`` and erase whatever stale bytes follow it."""
        if len(data) > CAPACITY[fid]:
            raise errors.CardProtocolError(f"{len(data)} bytes do not fit {fid.name}")
        if self.extended:
            self._update_extended(fid, data)
        else:
            self._update_short(fid, data)
        if old_length is None or old_length > len(data):
            self._erase_from(fid, len(data))

    def _update_extended(self, fid: Fid, data: bytes) -> None:
        """One UPDATE BINARY per data-field limit (one for any record; two for a 4 KB photo)."""
        limit = self.info.max_data if self.info else MAX_DATA_FIELD
        send(self.conn, Apdu(0, Ins.UPDATE_BINARY, 0x80 | SFI[fid], 0, data[:limit]),
             extended=True, name="UPDATE BINARY")
        for off in range(limit, len(data), limit):  # the first update made ``fid`` current
            send(self.conn, Apdu(0, Ins.UPDATE_BINARY, off >> 8, off & 0xFF,
                                 data[off:off + limit]), extended=True, name="UPDATE BINARY")

    def _update_short(self, fid: Fid, data: bytes) -> None:
        first = data[:SHORT_MAX_LC]
        send(self.conn, Apdu(0, Ins.UPDATE_BINARY, 0x80 | SFI[fid], 0, first), name="UPDATE BINARY")
        for off in range(SHORT_MAX_LC, len(data), SHORT_MAX_LC):
            chunk = data[off : off + SHORT_MAX_LC]
            send(self.conn, Apdu(0, Ins.UPDATE_BINARY, off >> 8, off & 0xFF, chunk),
                 name="UPDATE BINARY")

    def erase_file(self, fid: Fid) -> None:
        """ERASE BINARY of the whole of ``fid`` (addressed by SFI, offset 0)."""
        send(self.conn, Apdu(0, Ins.ERASE_BINARY, 0x80 | SFI[fid], 0), name="ERASE BINARY")

    def _erase_from(self, fid: Fid, offset: int) -> None:
        # the UPDATE just before addressed ``fid`` by SFI, which made it the current EF
        send(self.conn, Apdu(0, Ins.ERASE_BINARY, offset >> 8, offset & 0xFF), name="ERASE BINARY")

    def lock_identity(self) -> None:
        send(self.conn, Apdu(CLA_PROPRIETARY, Ins.LOCK_IDENTITY, 0, 0), name="LOCK IDENTITY")
