"""RP1 application and file identifiers, file capacities and the card-OS constants.

Everything here is part of the published card profile (docs/card-format.md, docs/card-os.md);
changing a value breaks every card in the field.
"""

from __future__ import annotations

from enum import IntEnum

#: Application identifier of the RP1 application (proprietary RID F0 'RP1', version 00 01).
AID = bytes.fromhex("F05250310001")

#: Card serial length in EF.CARD (bytes).
SERIAL_LEN = 8


class Fid(IntEnum):
    """File identifiers of the transparent EFs inside the RP1 application."""

    CARD = 0x0100  # card serial, 8 bytes, written by the card maker, read-only
    ID = 0x0101  # fixed identity record + identity signature, write-once
    RES_A = 0x0102  # erasable record slot A
    RES_B = 0x0103  # erasable record slot B
    PHOTO = 0x0104  # optional JPEG photo of the holder, written and locked with the identity


#: Short EF identifiers (READ BINARY / UPDATE BINARY with P1 b8=1 address the EF directly).
SFI: dict[Fid, int] = {Fid.CARD: 1, Fid.ID: 2, Fid.RES_A: 3, Fid.RES_B: 4, Fid.PHOTO: 5}

#: Allocated size of each EF in bytes. The largest legal record fits (see card-format.md).
CAPACITY: dict[Fid, int] = {Fid.CARD: SERIAL_LEN, Fid.ID: 512, Fid.RES_A: 512, Fid.RES_B: 512,
                            Fid.PHOTO: 4096}

#: The two erasable-record slots, in slot order.
SLOTS: tuple[Fid, Fid] = (Fid.RES_A, Fid.RES_B)


class KeyRef(IntEnum):
    """Key references for EXTERNAL AUTHENTICATE (P2)."""

    PERSONALIZATION = 0x01  # grants UPDATE/ERASE of EF.ID and EF.PHOTO, GENERATE KEY PAIR and
    #                         LOCK IDENTITY
    WRITE = 0x02  # grants UPDATE/ERASE of EF.RES_A / EF.RES_B


class Ins(IntEnum):
    """Instruction bytes understood by the RP1 card OS."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    UPDATE_BINARY = 0xD6
    ERASE_BINARY = 0x0E
    GET_CHALLENGE = 0x84
    EXTERNAL_AUTHENTICATE = 0x82
    GET_RESPONSE = 0xC0
    GET_DATA = 0xCA
    LOCK_IDENTITY = 0x1C  # proprietary, CLA 0x80
    INTERNAL_AUTHENTICATE = 0x88  # the chip signs a host challenge with its own key
    GENERATE_KEY_PAIR = 0x46  # proprietary, CLA 0x80: the chip's key pair, before the lock


#: CLA of proprietary RP1 commands.
CLA_PROPRIETARY = 0x80

#: Length of the GET CHALLENGE answer and of the EXTERNAL AUTHENTICATE cryptogram.
CHALLENGE_LEN = 8
CRYPTOGRAM_LEN = 16

#: Wrong authentications allowed per key before it blocks (63Cx counts down, 6983 at zero).
AUTH_TRIES = 8

#: Private tags inside the FCI proprietary template (A5) returned by SELECT AID with P2=00.
FCI_TAG_SERIAL = 0xC0  # 8-byte card serial
FCI_TAG_STATE = 0xC1  # 1 byte: 0x00 identity open (not personalized), 0x01 identity locked
FCI_TAG_MAX_APDU = 0xC2  # optional, 2 bytes: largest data field, when it differs from the below
FCI_TAG_COUNTER = 0xC3  # 4 bytes: the card's record-write counter (card OS with chip auth)

#: INTERNAL AUTHENTICATE: the host's challenge, the chip's public key (uncompressed P-256 point)
#: and its answer (ECDSA P-256 r || s).
CHIP_CHALLENGE_LEN = 16
CHIP_PUBLIC_KEY_LEN = 65
CHIP_SIGNATURE_LEN = 64
COUNTER_LEN = 4

#: Largest command data field an RP1 card accepts in an extended APDU (the whole of any EF fits).
MAX_DATA_FIELD = 0x0800

STATE_OPEN = 0x00
STATE_LOCKED = 0x01
