"""The virtual card through real pcscd + vpcd, seen by pyscard, scriptor and opensc-tool."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from smartcard.scard import (
    SCARD_LEAVE_CARD,
    SCARD_PROTOCOL_T1,
    SCARD_SCOPE_USER,
    SCARD_SHARE_SHARED,
    SCardConnect,
    SCardDisconnect,
    SCardEstablishContext,
    SCardListReaders,
    SCardReleaseContext,
    SCardStatus,
    SCardTransmit,
)

from card_layout.auth import cryptogram
from card_layout.files import KeyRef
from simulator.atr import ATR
from simulator.control import control_path, send_control
from simulator.image import CardImage
from simulator.vpcd import (
    reader_event_counter,
    reader_name_for_port,
    send_frame,
    wait_reader_empty,
)
from tests.conftest import free_ports, wait_card_state

pytestmark = pytest.mark.pcsc
SERIAL_HEX = "52503100000000A1"


class Pcsc:
    """A minimal pyscard client (raw SCard API) for the tests."""

    def __init__(self, reader: str) -> None:
        _, self.ctx = SCardEstablishContext(SCARD_SCOPE_USER)
        hr, self.handle, self.proto = SCardConnect(self.ctx, reader, SCARD_SHARE_SHARED,
                                                   SCARD_PROTOCOL_T1)
        assert hr == 0, f"SCardConnect failed {hr & 0xFFFFFFFF:08X}"

    def tx(self, apdu_hex: str) -> tuple[bytes, int]:
        hr, resp = SCardTransmit(self.handle, self.proto, list(bytes.fromhex(apdu_hex)))
        assert hr == 0, f"SCardTransmit failed {hr & 0xFFFFFFFF:08X}"
        return bytes(resp[:-2]), resp[-2] << 8 | resp[-1]

    def close(self) -> None:
        SCardDisconnect(self.handle, SCARD_LEAVE_CARD)
        SCardReleaseContext(self.ctx)


@pytest.fixture
def pcsc(vpcd_card):
    client = Pcsc(vpcd_card[0])
    yield client
    client.close()


def test_pyscard_lists_the_reader_and_sees_the_atr(vpcd_card, pcsc):
    _, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    _, readers = SCardListReaders(ctx, [])
    SCardReleaseContext(ctx)
    assert vpcd_card[0] in readers
    status = SCardStatus(pcsc.handle)
    assert status[1] == vpcd_card[0] and bytes(status[4]) == ATR
    assert pcsc.proto == SCARD_PROTOCOL_T1


def test_select_and_read(vpcd_card, pcsc):
    fci, sw = pcsc.tx("00A4040006F0525031000100")
    assert sw == 0x9000 and bytes.fromhex(SERIAL_HEX) in fci
    assert pcsc.tx("00A4000C020100") == (b"", 0x9000)
    assert pcsc.tx("00B0000008") == (bytes.fromhex(SERIAL_HEX), 0x9000)
    assert pcsc.tx("FFCA000000") == (bytes.fromhex(SERIAL_HEX), 0x9000)


def test_extended_write_and_read_through_pcscd(vpcd_card, pcsc):
    bridge = vpcd_card[2]
    challenge, _ = pcsc.tx("0084000008")
    crypt = cryptogram(bridge.card.image.keys[KeyRef.WRITE], challenge)
    assert pcsc.tx("0082000210" + crypt.hex())[1] == 0x9000
    data = bytes(range(256)) + bytes(range(100))
    assert pcsc.tx("00D6830000" + f"{len(data):04X}" + data.hex())[1] == 0x9000
    assert pcsc.tx("00B08300000000") == (data, 0x9000)
    assert CardImage.load(vpcd_card[1]).files[0x0102].data == data


def test_the_bridge_stays_clear_of_the_delayed_ack_trap(vpcd_card, pcsc):
    """A frame written in two pieces with Nagle on waits for the peer's delayed ACK, about 40 ms
    per APDU. What the bridge does against it is checked here (Nagle off, one write per
    frame); how fast a round trip is, the benchmark measures (raw replay, `python -m bench`)."""
    _reader, _path, bridge = vpcd_card
    pcsc.tx("00A4000C020100")
    for _ in range(50):
        assert pcsc.tx("00B0000008")[1] == 0x9000
    sock = bridge._sock
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

    class Writes:
        def __init__(self) -> None:
            self.calls: list[bytes] = []

        def sendall(self, data: bytes) -> None:
            self.calls.append(bytes(data))

    writes = Writes()
    send_frame(writes, bytes(300))  # type: ignore[arg-type]
    assert writes.calls == [b"\x01\x2c" + bytes(300)], "one write per frame"


def test_removal_and_reinsertion_are_seen(vpcd_card):
    reader, _, bridge = vpcd_card
    bridge.remove()
    assert wait_card_state(reader, present=False)
    bridge.insert()
    assert wait_card_state(reader, present=True)
    client = Pcsc(reader)
    try:
        assert client.tx("FFCA000000")[1] == 0x9000
    finally:
        client.close()


def test_a_removal_counts_only_once_pcscd_itself_has_seen_it(vpcd_card):
    """The feeder's wait before it puts a card back: the reader empty and pcscd's event
    counter moved past the value it had while the card was in (the state alone can say
    "empty" while pcscd's poller still counts the card, after a failed reset)."""
    reader, _, bridge = vpcd_card
    stop = threading.Event()
    inside = reader_event_counter(reader)
    assert inside is not None
    assert not wait_reader_empty(reader, 0.3, stop, since=inside)  # still in: no
    bridge.remove()
    assert wait_reader_empty(reader, 5.0, stop, since=inside)
    gone = reader_event_counter(reader)
    assert gone != inside
    assert not wait_reader_empty(reader, 0.3, stop, since=gone)  # empty, but nothing moved
    bridge.insert()
    assert wait_card_state(reader, present=True)
    assert reader_event_counter(reader) not in (inside, gone)


def test_power_cut_looks_like_a_reinserted_card(vpcd_card):
    reader, _, bridge = vpcd_card
    client = Pcsc(reader)
    bridge.card.faults.cut_power_after(0)
    hr, resp = SCardTransmit(client.handle, client.proto, list(bytes.fromhex("FFCA000000")))
    # measured: pcscd + vpcd report either an error or success with no status word at all
    assert hr != 0 or len(resp) < 2, f"card answered {bytes(resp).hex()} after a power cut"
    assert not bridge.card.powered
    client.close()
    assert wait_card_state(reader, present=False)  # out for the bridge's reinsert_delay
    assert wait_card_state(reader, present=True)
    again = Pcsc(reader)
    try:
        assert again.tx("00B0810000") == (bytes.fromhex(SERIAL_HEX), 0x9000)
    finally:
        again.close()


def test_scriptor_drives_the_card(vpcd_card):
    script = "00 A4 04 00 06 F0 52 50 31 00 01\n00 A4 00 0C 02 01 00\n00 B0 00 00 08\n"
    out = subprocess.run(["scriptor", "-r", vpcd_card[0]], input=script, text=True,
                         capture_output=True, timeout=30, check=True).stdout
    serial = " ".join(SERIAL_HEX[i:i + 2] for i in range(0, 16, 2))
    assert f"< {serial} 90 00" in out
    assert out.count("90 00 : Normal processing") == 3


def test_opensc_tool_sees_atr_and_serial(vpcd_card):
    out = subprocess.run(["opensc-tool", "-r", vpcd_card[0], "-a", "-s", "FF CA 00 00 00"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert ATR.hex(":") in out
    assert "SW1=0x90, SW2=0x00" in out
    assert " ".join(SERIAL_HEX[i:i + 2] for i in range(0, 16, 2)) in out


def _start_serving(cardsim: list[str], image):
    """`cardsim serve` into the first empty virtual reader (stdout/stderr kept for asserts)."""
    for port in free_ports():
        reader = reader_name_for_port(port)
        serve = subprocess.Popen([*cardsim, "serve", str(image), "--port", str(port)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_card_state(reader, present=True, timeout=5.0):
            return serve, reader
        serve.terminate()
        serve.communicate(timeout=10)
    raise AssertionError("cardsim serve did not bring the card into any vpcd reader")


def test_cardsim_serve_ctl_and_sigterm(pcscd, tmp_path):
    image = tmp_path / "c.json"
    cardsim = [sys.executable, "-m", "simulator"]
    subprocess.run([*cardsim, "new", str(image), "--serial", "0102030405060708"], check=True,
                   capture_output=True, timeout=30)
    serve, reader = _start_serving(cardsim, image)
    try:
        client = Pcsc(reader)
        assert client.tx("00B0810000") == (bytes.fromhex("0102030405060708"), 0x9000)
        client.close()
        assert send_control(control_path(image), "remove").startswith("ok remove")
        assert wait_card_state(reader, present=False)
        assert send_control(control_path(image), "insert").startswith("ok")
        assert wait_card_state(reader, present=True)
        shown = subprocess.run([*cardsim, "show", str(image)], capture_output=True, text=True,
                               timeout=30, check=True).stdout
        assert "serial: 0102030405060708" in shown
    finally:
        os.kill(serve.pid, signal.SIGTERM)
        _, err = serve.communicate(timeout=10)
    assert serve.returncode == 0 and b"card removed" in err
    assert wait_card_state(reader, present=False)
    assert not control_path(image).exists()
