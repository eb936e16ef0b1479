"""APDU framing in small pieces: command formatting (short and extended), status words,
61xx response chaining and 6Cxx Le correction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cardservice.errors import CardProtocolError
from cardservice.transport import CardConnection

SHORT_MAX_LC = 255
SHORT_MAX_NE = 256
EXTENDED_MAX_NE = 65536


class SW(IntEnum):
    """ISO 7816-4 status words the RP1 card and this client agree on."""

    OK = 0x9000
    END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


class ApduError(CardProtocolError):
    """The card answered with a status word other than 9000."""

    def __init__(self, sw: int, command: str = "") -> None:
        self.sw = sw
        what = f"{command} " if command else ""
        super().__init__(f"{what}failed with SW {sw:04X}")

    @property
    def tries_left(self) -> int | None:
        """For 63Cx: the tries left."""
        return self.sw & 0x0F if self.sw & 0xFFF0 == 0x63C0 else None


@dataclass(frozen=True)
class Apdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int = 0  # expected response length; 0 = none, 256 / 65536 = as much as available

    def encode(self, extended: bool = False) -> bytes:
        """Encode as a short APDU where possible, extended when needed or requested."""
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        lc = len(self.data)
        use_ext = extended or lc > SHORT_MAX_LC or self.ne > SHORT_MAX_NE
        if lc > 0xFFFF or self.ne > EXTENDED_MAX_NE:
            raise ValueError("APDU too long")
        if not use_ext:
            body = (bytes([lc]) + self.data) if lc else b""
            if self.ne:
                body += bytes([self.ne & 0xFF])  # 256 -> 00
            return header + body
        body = (b"\x00" + lc.to_bytes(2, "big") + self.data) if lc else b""
        if self.ne:
            le = (self.ne & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
            body += le if lc else b"\x00" + le
        return header + body


def transceive(
    conn: CardConnection, apdu: Apdu, *, extended: bool = False, name: str = "",
    encoded: bytes | None = None,
) -> tuple[bytes, int]:
    """Send ``apdu``, following 61xx (GET RESPONSE) and 6Cxx (resend with the right Le).
    ``encoded``: ``apdu.encode(extended)`` worked out before (a command sent on every read).

    Returns the complete response data and the final status word; raises nothing on SW.
    """
    data, sw = conn.send_and_receive(apdu.encode(extended) if encoded is None else encoded)
    if sw >> 8 == 0x6C:
        corrected = Apdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, (sw & 0xFF) or 256)
        data, sw = conn.send_and_receive(corrected.encode(extended))
    if sw >> 8 != 0x61:
        return data, sw
    buf = bytearray(data)
    while sw >> 8 == 0x61:
        get = Apdu(apdu.cla & 0x03, 0xC0, 0, 0, ne=(sw & 0xFF) or 256)
        data, sw = conn.send_and_receive(get.encode())
        buf += data
    return bytes(buf), sw


def send(
    conn: CardConnection, apdu: Apdu, *, extended: bool = False, name: str = "",
    ok: tuple[int, ...] = (SW.OK,), encoded: bytes | None = None,
) -> bytes:
    """Send ``apdu``; return its data or raise :class:`ApduError` for any SW not in ``ok``."""
    data, sw = transceive(conn, apdu, extended=extended, name=name, encoded=encoded)
    if sw not in ok:
        raise ApduError(sw, name)
    return data
