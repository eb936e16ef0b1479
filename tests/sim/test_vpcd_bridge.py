"""The vpcd bridge against a local TCP server speaking vpcd's protocol (no pcscd needed):
framing, control bytes, partial reads, removal, power-cut re-insertion, reconnect."""

from __future__ import annotations

import random
import socket
import time

import pytest

from simulator.atr import ATR
from simulator.card import VirtualCard
from simulator.vpcd import VpcdBridge, reader_name_for_port, recv_exact


class FakeVpcd:
    """The pcscd side: listens, accepts the card, sends frames."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(5)
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.server.accept()
        self.conn.settimeout(5)

    def ask(self, payload: bytes, chunks: int = 1) -> bytes:
        frame = len(payload).to_bytes(2, "big") + payload
        step = max(1, len(frame) // chunks)
        for i in range(0, len(frame), step):
            self.conn.sendall(frame[i:i + step])
            time.sleep(0.01)
        return recv_exact(self.conn, int.from_bytes(recv_exact(self.conn, 2), "big"))

    def tell(self, control: int) -> None:
        self.conn.sendall(b"\x00\x01" + bytes([control]))

    def close(self) -> None:
        if self.conn:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd():
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def bridge(vpcd, blank_image):
    card = VirtualCard(blank_image, random.Random(3))
    bridge = VpcdBridge(card, "127.0.0.1", vpcd.port, reinsert_delay=0.2).start()
    vpcd.accept()
    assert bridge.wait_connected(2)
    yield bridge
    bridge.stop()


def test_reader_names_follow_pcscd_numbering():
    assert reader_name_for_port(35963) == "Virtual PCD 00 00"
    assert reader_name_for_port(35964) == "Virtual PCD 00 01"
    assert reader_name_for_port(35965) == "Virtual PCD B 00 00"
    assert reader_name_for_port(35966) == "Virtual PCD B 00 01"
    assert reader_name_for_port(4242) == "vpcd port 4242"


def test_atr_power_and_apdus(vpcd, bridge):
    assert bridge.wait_connected(2)
    assert vpcd.ask(b"\x04") == ATR
    vpcd.tell(0x01)
    assert vpcd.ask(bytes.fromhex("FFCA000000")) == bytes.fromhex("0011223344556677 9000")
    assert vpcd.ask(bytes.fromhex("00A4040C06F05250310001"), chunks=5) == b"\x90\x00"


def test_socket_options_are_set(vpcd, bridge):
    bridge.wait_connected(2)
    sock = bridge._sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_apdu_on_unpowered_card_powers_it(vpcd, bridge):
    vpcd.tell(0x00)
    assert vpcd.ask(bytes.fromhex("00B0810002")) == bytes.fromhex("0011 9000")


def test_remove_closes_and_insert_reconnects(vpcd, bridge):
    bridge.remove()
    assert vpcd.conn.recv(1) == b""  # pcscd sees the socket close
    assert not bridge.card.present
    bridge.insert()
    vpcd.accept()
    assert vpcd.ask(b"\x04") == ATR


def test_power_cut_reinserts_after_delay(vpcd, bridge):
    vpcd.tell(0x01)
    bridge.card.faults.cut_power_after(0)
    vpcd.conn.sendall(b"\x00\x05" + bytes.fromhex("FFCA000000"))
    assert vpcd.conn.recv(1) == b""
    vpcd.accept()
    vpcd.tell(0x01)
    assert vpcd.ask(bytes.fromhex("FFCA000000"))[-2:] == b"\x90\x00"


def test_pull_stays_out_until_insert(vpcd, bridge):
    vpcd.tell(0x01)
    bridge.card.faults.pull()
    vpcd.conn.sendall(b"\x00\x01\x04")
    assert vpcd.conn.recv(1) == b""
    vpcd.server.settimeout(0.5)
    with pytest.raises(socket.timeout):
        vpcd.server.accept()
    bridge.insert()
    vpcd.server.settimeout(5)
    vpcd.accept()
    assert vpcd.ask(b"\x04") == ATR


def test_mute_card_stays_silent(vpcd, bridge):
    vpcd.tell(0x01)
    bridge.card.faults.mute()
    vpcd.conn.sendall(b"\x00\x05" + bytes.fromhex("FFCA000000"))
    vpcd.conn.settimeout(0.5)
    with pytest.raises(socket.timeout):
        vpcd.conn.recv(1)
    bridge.unmute()  # ends the blocked exchange by re-inserting the card
    assert vpcd.conn.recv(1) == b""
    vpcd.accept()
    assert vpcd.ask(b"\x04") == ATR


def test_reconnects_with_backoff_when_pcscd_restarts(blank_image):
    fake = FakeVpcd()
    port = fake.port
    bridge = VpcdBridge(VirtualCard(blank_image), "127.0.0.1", port, max_backoff=0.2).start()
    try:
        fake.accept()
        fake.close()  # pcscd goes away
        time.sleep(0.5)  # the bridge retries against a closed port
        assert not bridge.connected.is_set()
        again = FakeVpcd(port)
        try:
            again.accept()
            assert again.ask(b"\x04") == ATR
        finally:
            again.close()
    finally:
        bridge.stop()
