"""APDU framing: short and extended encodings, 61xx / 6Cxx handling, FCI and ATR parsing."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.card.apdu import SW, Apdu, ApduError, send, transceive
from cardservice.card.protocol import atr_supports_extended, parse_fci
from cardservice.transport import CardConnection
from simulator.atr import ATR


@pytest.mark.parametrize("apdu,extended,hex_", [
    (Apdu(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("F05250310001"), 256), False,
     "00a4040006f0525031000100"),
    (Apdu(0x00, 0xA4, 0x00, 0x0C, b"\x01\x00"), False, "00a4000c020100"),
    (Apdu(0x00, 0xB0, 0x82, 0x00, ne=65536), True, "00b08200000000"),
    (Apdu(0x00, 0xB0, 0x00, 0x00, ne=8), False, "00b0000008"),
    (Apdu(0x00, 0xB0, 0x00, 0x00, ne=300), False, "00b00000" + "00012c"),
    (Apdu(0x00, 0xD6, 0x83, 0x00, bytes(300)), False, "00d68300" + "00012c" + "00" * 300),
    (Apdu(0x00, 0xD6, 0x83, 0x00, b"\xAA"), True, "00d68300000001aa"),
    (Apdu(0x80, 0x1C, 0x00, 0x00), False, "801c0000"),
    (Apdu(0x00, 0x0E, 0x01, 0x2C), True, "000e012c"),
])
def test_encoding(apdu: Apdu, extended: bool, hex_: str):
    assert apdu.encode(extended).hex() == hex_


def test_too_long_is_refused():
    with pytest.raises(ValueError):
        Apdu(0, 0xD6, 0, 0, bytes(65536)).encode()


class ChainingCard(CardConnection):
    """A card that answers 61xx and 6Cxx as T=0 cards do (records what it received)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.sent: list[bytes] = []
        self._left = b""

    @property
    def atr(self) -> bytes:
        return ATR

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        if apdu[1] == 0xC0:  # GET RESPONSE
            chunk, self._left = self._left[: apdu[4] or 256], self._left[apdu[4] or 256:]
            return chunk, 0x6100 | min(len(self._left), 255) if self._left else 0x9000
        if apdu[1] == 0xCA and apdu[-1] != len(self.payload):
            return b"", 0x6C00 | len(self.payload)
        self._left = self.payload
        return b"", 0x6100 | min(len(self._left), 255)


def test_61xx_response_chaining_collects_everything():
    card = ChainingCard(bytes(range(200)) * 2)
    data, sw = transceive(card, Apdu(0, 0xB0, 0, 0, ne=256))
    assert sw == SW.OK and data == bytes(range(200)) * 2
    assert [a[1] for a in card.sent] == [0xB0, 0xC0, 0xC0]


def test_6cxx_resends_with_the_right_le():
    card = ChainingCard(b"\x01" * 8)
    card.send_and_receive = _6c_then_data(card)
    assert send(card, Apdu(0, 0xCA, 0, 0, ne=256)) == b"\x01" * 8
    assert card.sent[-1].hex() == "00ca000008"


def _6c_then_data(card: ChainingCard):
    def answer(apdu: bytes) -> tuple[bytes, int]:
        card.sent.append(apdu)
        return (b"", 0x6C08) if apdu[-1] != 8 else (b"\x01" * 8, 0x9000)
    return answer


def test_non_9000_raises_apdu_error_with_tries():
    class Refusing(ChainingCard):
        def send_and_receive(self, apdu):
            return b"", 0x63C3

    with pytest.raises(ApduError) as exc:
        send(Refusing(b""), Apdu(0, 0x82, 0, 2, bytes(16)), name="EXTERNAL AUTHENTICATE")
    assert exc.value.sw == 0x63C3 and exc.value.tries_left == 3
    assert "63C3" in exc.value.message and isinstance(exc.value, errors.CardProtocolError)


def test_simulator_atr_announces_extended_length():
    assert atr_supports_extended(ATR)
    assert not atr_supports_extended(bytes.fromhex("3b8f8001804f0ca000000306030001000000006a"))
    assert not atr_supports_extended(b"")


def test_fci_parsing():
    info = parse_fci(bytes.fromhex("6f0fa50dc008bd8ad01a7394434ac10101"))
    assert info.serial.hex() == "bd8ad01a7394434a" and info.locked and info.max_data == 0x800
    older = parse_fci(bytes.fromhex("6f1b8406f05250310001a511c008bd8ad01a7394434ac10100c2020400"))
    assert not older.locked and older.max_data == 0x400  # a declared limit is honoured
    with pytest.raises(errors.CardProtocolError):
        parse_fci(bytes.fromhex("6f088406f05250310001"))
    with pytest.raises(errors.CardProtocolError):
        parse_fci(b"\x90\x00")
