"""Bridge a :class:`VirtualCard` to pcscd's vpcd virtual reader.

pcscd (driver libifdvpcd) listens on TCP 35963 + slot; the card connects as a client
(insertion) and closes the socket (removal). Frames in both directions: 2-byte big-endian
length, then payload. A 1-byte payload from vpcd is control (00 power off, 01 power on,
02 reset, 04 get ATR -> reply the ATR); anything longer is a command APDU (reply data + SW).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator

from .card import VirtualCard
from .faults import CardAbsent, CardMute, CardPulled, PowerLost

logger = logging.getLogger(__name__)

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04


class _Closed(Exception):
    """The socket was closed (by pcscd, or by us to remove the card)."""


def reader_name_for_port(port: int) -> str:
    """pcscd's name of the vpcd reader on ``port``: the package's config (CHANNELID 0x8C7B)
    gives "Virtual PCD 00 00/01" on 35963/35964; the project's extra config (0x8C7D, installed by
    scripts/install-system-deps.sh) gives "Virtual PCD B 00 00/01" on 35965/35966."""
    index, slot = divmod(port - DEFAULT_PORT, 2)
    if not 0 <= index < 26:
        return f"vpcd port {port}"
    prefix = "Virtual PCD" if index == 0 else "Virtual PCD " + chr(ord("A") + index)
    return f"{prefix} 00 {slot:02d}"


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly ``n`` bytes (TCP_QUICKACK re-armed after every recv)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise _Closed("peer closed the connection")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        buf += chunk
    return bytes(buf)


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


class VpcdBridge:
    """Keeps ``card`` inserted in the vpcd reader at ``host:port`` from a background thread.

    ``remove()`` / ``insert()`` take the card out / put it back; a power cut removes it for
    ``reinsert_delay`` seconds; if pcscd goes away the bridge reconnects with backoff.
    """

    def __init__(self, card: VirtualCard, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 reinsert_delay: float = 1.0, max_backoff: float = 2.0) -> None:
        self.card = card
        self.host, self.port = host, port
        self.reinsert_delay = reinsert_delay
        self.max_backoff = max_backoff
        self._inserted = threading.Event()
        self._inserted.set()
        self._stopping = threading.Event()
        self.connected = threading.Event()
        #: Set once pcscd has sent a frame on the current connection (it accepted the card).
        self.accepted = threading.Event()
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"vpcd-{port}", daemon=True)

    @property
    def reader_name(self) -> str:
        return reader_name_for_port(self.port)

    def start(self) -> VpcdBridge:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the card and end the bridge thread."""
        with self._sock_lock:
            self._stopping.set()
            self._inserted.set()
        self._close_socket()
        self._thread.join(timeout)

    def remove(self) -> None:
        """Pull the card out: close the socket and stay out until :meth:`insert`."""
        with self._sock_lock:
            self._inserted.clear()
            self.card.remove()
        self._close_socket()

    def insert(self) -> None:
        self.card.insert()
        self._inserted.set()

    def unmute(self) -> None:
        """End a mute phase; the card is taken out and put back so pcscd's blocked request ends.
        With pcscd on this machine the card goes back only once pcscd shows the reader empty
        (up to :data:`REMOVAL_WAIT` s) and its poller has counted the removal: a card back
        before pcscd's next poll (late under load) is taken for the old one, still powered and
        mute."""
        self.card.faults.unmute()
        local = self.host in LOCAL_HOSTS
        since = reader_event_counter(self.reader_name) if local else None
        with self._sock_lock:
            self._inserted.clear()
        self._close_socket()
        if local:
            wait_reader_empty(self.reader_name, REMOVAL_WAIT, self._stopping, since)
        self._inserted.set()

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self.connected.wait(timeout)

    def _close_socket(self) -> None:
        with self._sock_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _run(self) -> None:
        backoff = 0.05
        while not self._stopping.is_set():
            self._inserted.wait()
            if self._stopping.is_set():
                break
            sock = self._connect()
            if sock is None:
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.05
            self._serve(sock)

    def _connect(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=2.0)
        except OSError as exc:
            logger.debug("vpcd at %s:%d not reachable: %s", self.host, self.port, exc)
            return None
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._sock_lock:
            if not self._inserted.is_set() or self._stopping.is_set():
                sock.close()  # removed or stopped while connecting
                return None
            self._sock = sock
            self.card.insert()
        self.connected.set()
        logger.info("card inserted into %s", self.reader_name)
        return sock

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                length = int.from_bytes(recv_exact(sock, 2), "big")
                self.accepted.set()
                reply = self._handle(recv_exact(sock, length))
                if reply is not None:
                    send_frame(sock, reply)
        except (_Closed, OSError) as exc:
            logger.info("card out of %s (%s)", self.reader_name, exc)
        except PowerLost:
            logger.info("power cut: card out of %s for %.1f s", self.reader_name,
                        self.reinsert_delay)
            self._close_socket()
            self.connected.clear()
            self._stopping.wait(self.reinsert_delay)
        except CardPulled:
            self._inserted.clear()
        finally:
            self.connected.clear()
            self.accepted.clear()
            self._close_socket()

    def _handle(self, payload: bytes) -> bytes | None:
        if self.card.faults.take_pull():
            self.card.remove()
            raise CardPulled("card pulled")
        if len(payload) == 1:
            return self._control(payload[0])
        if not self.card.powered and self.card.present:
            self.card.power_on()  # vpcd sends APDUs only after power-on; be lenient
        try:
            return self.card.process(payload)
        except CardMute:
            return None
        except CardAbsent as exc:
            raise _Closed("card absent") from exc

    def _control(self, code: int) -> bytes | None:
        if self.card.faults.muted:
            return None
        if code == POWER_OFF:
            self.card.power_off()
        elif code in (POWER_ON, RESET):
            self.card.power_on()
        elif code == GET_ATR:
            return self.card.atr
        else:
            logger.warning("unknown vpcd control byte %02X", code)
        return None


#: seconds a bridge or feeder waits for the local pcscd to report a card gone before it puts one back
REMOVAL_WAIT = 5.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


#: PC/SC's SCARD_STATE_PRESENT bit of a reader's state word
_STATE_PRESENT = 0x20


@contextlib.contextmanager
def _reader_state(reader: str) -> Iterator[Callable[[], int | None] | None]:
    """A function that asks the local pcscd for ``reader``'s state word (None when pcscd does
    not answer), on one PC/SC context for the block; None instead when pcscd cannot be asked
    at all (no pyscard, no pcscd)."""
    try:
        from smartcard import scard
    except ImportError:
        yield None
        return
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        yield None
        return

    def state() -> int | None:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        return states[0][1] if hresult == scard.SCARD_S_SUCCESS else None

    try:
        yield state
    finally:
        scard.SCardReleaseContext(context)


def _counter(word: int) -> int:
    return (word >> 16) & 0xFFFF


def reader_event_counter(reader: str) -> int | None:
    """pcscd's event counter of ``reader`` (the high 16 bits of its state word), which pcscd's
    own poller raises on every insertion and removal it sees; None when it cannot be asked."""
    with _reader_state(reader) as state:
        word = state() if state is not None else None
    return None if word is None else _counter(word)


def wait_reader_empty(reader: str, timeout: float, stop: threading.Event,
                      since: int | None = None) -> bool:
    """Wait until the local pcscd reports no card in ``reader`` and, with ``since`` (its event
    counter while the card was in), until that counter has moved: then pcscd's poller itself has
    seen the slot empty. The state alone can say "empty" too early: when a client dies inside a
    transaction and pcscd's reset of the card fails, pcscd marks the reader empty while its
    poller still counts the card in, and a card put back before the poller has seen the slot
    empty is never reported. False on timeout or when pcscd cannot be asked (no pyscard, no
    pcscd): the feeder then relies on its insert delay."""
    with _reader_state(reader) as state:
        if state is None:
            return False
        for _ in range(max(1, int(timeout / 0.05))):
            word = state()
            if word is None:
                return False
            moved = since is None or _counter(word) != since
            if not word & _STATE_PRESENT and moved:
                return True
            if stop.wait(0.05):
                return False
    logger.warning("pcscd has not seen %s empty after %.0f s", reader, timeout)
    return False
