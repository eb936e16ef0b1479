"""The PC/SC driver: the only module that imports pyscard (``smartcard``).

It speaks the low-level ``smartcard.scard`` API so that contexts, transactions and dispositions are
explicit: cards are connected shared and always left powered (``SCARD_LEAVE_CARD``), every
transmit runs under a watchdog, PC/SC result codes become typed :mod:`cardservice.errors` (the
table: :mod:`cardservice.transport.pcsc_codes`), and a context that died with pcscd is replaced by
a new one on the next call.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from smartcard import scard

from cardservice import errors
from cardservice.logs import TRAFFIC, redact_command, redact_response
from cardservice.transport import CardConnection, ReaderInfo
from cardservice.transport import pcsc_codes as codes
from cardservice.transport.pcsc_codes import code_of, error_for, handle_is_dead
from cardservice.transport.selection import EVERY_READER, ReaderSelection

logger = logging.getLogger(__name__)

T = TypeVar("T")

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"

def _check(hresult: int, what: str) -> None:
    code = code_of(hresult)
    if code == 0:
        return
    try:
        text = scard.SCardGetErrorMessage(hresult)
    except Exception:  # noqa: BLE001 - the message is only decoration
        text = ""
    raise error_for(code, what, text)


def _establish() -> int:
    try:
        hresult, hcontext = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    except Exception as exc:  # pyscard raises its own non-SmartcardException types here
        raise errors.PcscUnavailableError(f"cannot reach pcscd: {exc}") from exc
    _check(hresult, "establish context")
    return hcontext


class Context:
    """A PC/SC context that re-establishes itself after pcscd restarts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hcontext: int | None = None

    def get(self) -> int:
        with self._lock:
            if self._hcontext is None:
                self._hcontext = _establish()
            return self._hcontext

    def invalidate(self) -> None:
        with self._lock:
            if self._hcontext is not None:
                try:
                    scard.SCardReleaseContext(self._hcontext)
                except Exception as exc:  # noqa: BLE001 - a dead context may refuse release
                    logger.debug("releasing a dead PC/SC context failed: %s", exc)
            self._hcontext = None

    def call(self, fn, *args, what: str):
        """Run ``fn(hcontext, *args)``; on a dead-context error retry once on a new context."""
        for attempt in (0, 1):
            result = fn(self.get(), *args)
            hresult = result[0] if isinstance(result, (tuple, list)) else result
            if code_of(hresult) in codes.DEAD_CONTEXT and attempt == 0:
                logger.info("PC/SC context lost (%s); establishing a new one", what)
                self.invalidate()
                continue
            _check(hresult, what)
            return result
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.invalidate()


def list_readers(context: Context) -> list[str]:
    for attempt in (0, 1):
        hresult, readers = scard.SCardListReaders(context.get(), [])
        code = code_of(hresult)
        if code == codes.E_NO_READERS_AVAILABLE:
            return []
        if code in codes.DEAD_CONTEXT and attempt == 0:
            context.invalidate()
            continue
        _check(hresult, "list readers")
        return list(readers)
    return []


def reader_infos(context: Context, selection: ReaderSelection = EVERY_READER) -> list[ReaderInfo]:
    """Each reader of ``selection`` with whether it holds a card and the card's ATR."""
    names = selection.filter(list_readers(context))
    if not names:
        return []
    states = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
    hresult, new_states = scard.SCardGetStatusChange(context.get(), 0, states)
    if code_of(hresult) not in (0, codes.E_TIMEOUT):
        _check(hresult, "reader status")
    infos = []
    for name, state, atr in new_states:
        present = bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE
        infos.append(ReaderInfo(name, present, bytes(atr) if present and atr else None))
    return infos


#: pcsc-lite refuses SCardGetStatusChange over more than 16 entries (PCSCLITE_MAX_READERS_CONTEXTS)
#: with SCARD_E_INVALID_PARAMETER; with 16 readers the PnP pseudo-reader is left out (readers
#: added or removed are seen at the monitor's next listing, within its wait).
MAX_WATCHED = 16
POLL_MS = 200


def card_token(context: Context, reader: str) -> int | None:
    """A token of the card now in ``reader`` (None: no card): pcscd's event counter of the
    reader, which changes with every insertion and removal, so a new card has a new token."""
    hresult, states = scard.SCardGetStatusChange(context.get(), 0,
                                                 [(reader, scard.SCARD_STATE_UNAWARE)])
    if code_of(hresult) not in (0, codes.E_TIMEOUT):
        _check(hresult, "reader status")
    _name, state, _atr = states[0]
    if not state & scard.SCARD_STATE_PRESENT or state & scard.SCARD_STATE_MUTE:
        return None
    return (state >> 16) & 0xFFFF


def wait_for_change(context: Context, known: dict[str, int], timeout_ms: int) -> dict[str, int]:
    """Block until a reader or card changes (or ``timeout_ms``); return the new event states.

    ``known`` maps reader names to their last event state; the PnP pseudo-reader reports readers
    added or removed. Raises PcscUnavailableError if pcscd is gone."""
    states = [(name, state) for name, state in known.items() if name != PNP_NOTIFICATION]
    if len(states) > MAX_WATCHED:  # more readers than one call may watch: poll instead
        time.sleep(min(timeout_ms, POLL_MS) / 1000)
        return dict(known)
    if len(states) < MAX_WATCHED:  # with 16 readers the PnP entry would be the 17th
        states.append((PNP_NOTIFICATION, known.get(PNP_NOTIFICATION, scard.SCARD_STATE_UNAWARE)))
    hresult, new_states = scard.SCardGetStatusChange(context.get(), timeout_ms, states)
    code = code_of(hresult)
    if code in (codes.E_TIMEOUT, codes.E_CANCELLED):
        return dict(known)
    if code == codes.E_UNKNOWN_READER:
        return {}
    if code in codes.DEAD_CONTEXT:
        context.invalidate()
    _check(hresult, "wait for reader change")
    return {name: state & ~scard.SCARD_STATE_CHANGED for name, state, _atr in new_states}


class PcscConnection(CardConnection):
    """A shared connection to the card in one reader, with its own PC/SC context.

    With ``watchdog=True`` (the CLI) every PC/SC call runs on the connection's own I/O thread and
    a call that outlives ``timeout`` abandons the operation with CARD_TIMEOUT. With
    ``watchdog=False`` the calls run on the caller's thread: for a caller that owns the handle on
    a long-lived thread of its own and watches it from outside (the daemon's reader worker, whose
    operation the API abandons after ``operation_timeout``); this saves two thread hand-offs per
    card operation."""

    waits_for_card = True

    def __init__(self, reader: str, *, timeout: float = 5.0, watchdog: bool = True) -> None:
        self._reader = reader
        self._timeout = timeout
        self._context = Context()
        self._broken = False
        self._stale = False  # the handle died (card pulled, reset, pcscd gone): reopen it
        self._in_transaction = False
        self._inflight_since: float | None = None  # start of the PC/SC call now running
        if not watchdog:
            self._pool = None
            self._io_thread = None
            self._connect_or_release()
            return
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pcsc-io")
        self._io_thread = self._pool.submit(threading.get_ident).result()
        # connecting powers the card up: a card that never answers blocks it like a transmit
        future = self._pool.submit(self._connect_or_release)
        try:
            future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            self._broken = True
            self._pool.shutdown(wait=False)
            raise errors.CardTimeoutError(
                f"connect {reader}: the card did not answer within {timeout:g} s"
            ) from None
        except BaseException:
            self._pool.shutdown(wait=False)
            raise

    def _connect_or_release(self) -> None:
        """:meth:`_connect`; if it fails (no card, reader gone), release the context at once:
        pcscd serves a bounded number of contexts, and a client polling an empty reader would
        otherwise leak one per attempt until pcscd refuses every client."""
        try:
            self._connect()
        except BaseException:
            self._context.close()
            raise

    def _connect(self) -> None:
        hresult, self._hcard, self._protocol = self._context.call(
            scard.SCardConnect, self._reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, what=f"connect {self._reader}",
        )
        self._pci = (scard.SCARD_PCI_T1 if self._protocol == scard.SCARD_PROTOCOL_T1
                     else scard.SCARD_PCI_T0)
        hresult, _name, _state, _proto, atr = scard.SCardStatus(self._hcard)
        _check(hresult, "card status")
        self._atr = bytes(atr)

    def _reconnect(self) -> None:
        """A new handle (and, after a pcscd restart, a new context) for the card now present."""
        with contextlib.suppress(Exception):
            scard.SCardDisconnect(self._hcard, scard.SCARD_LEAVE_CARD)
        self._context.invalidate()
        self._connect()

    @property
    def broken(self) -> bool:
        """True after a PC/SC call outlived the watchdog or the handle died: this connection
        must be dropped and a new one opened for the next operation."""
        return self._broken or self._stale

    def _check(self, hresult: int, what: str) -> None:
        """:func:`_check`, marking the connection stale when the result means a dead handle."""
        try:
            _check(hresult, what)
        except errors.CardServiceError as exc:
            if handle_is_dead(exc):
                self._stale = True
            raise

    @property
    def call_age(self) -> float | None:
        """Seconds the PC/SC call now running on the caller's thread (``watchdog=False``, or
        inside :meth:`exclusive`) has taken so far; None when no call is running. A watchdog
        outside that thread reads it to give up on a mute card."""
        started = self._inflight_since
        return None if started is None else time.monotonic() - started

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def reader_name(self) -> str:
        return self._reader

    def _guarded(self, fn, *args, what: str):
        """Call ``fn`` under the watchdog: directly when already on the I/O thread (inside
        :meth:`exclusive`, whose caller watches the call), else through the I/O thread."""
        if self._broken:
            raise errors.CardTimeoutError(f"{what}: an earlier command on this reader never returned")
        if self._pool is None or threading.get_ident() == self._io_thread:
            self._inflight_since = time.monotonic()
            try:
                return fn(*args)
            finally:
                self._inflight_since = None
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=self._timeout)
        except concurrent.futures.TimeoutError:
            self._broken = True
            raise errors.CardTimeoutError(
                f"{what}: the card did not answer within {self._timeout:g} s"
            ) from None

    def exclusive(self, operation: Callable[[], T]) -> T:
        """Run a whole card operation on the I/O thread inside one transaction: one thread
        hand-off per operation. The caller keeps the watchdog: any single PC/SC call that runs
        longer than the timeout abandons the operation with CARD_TIMEOUT."""
        if self._broken:
            raise errors.CardTimeoutError("an earlier command on this reader never returned")
        if self._pool is None:
            return self._exclusive_here(operation)
        future = self._pool.submit(self._exclusive_here, operation)
        while True:
            try:
                return future.result(timeout=self._timeout)
            except concurrent.futures.TimeoutError:
                started = self._inflight_since
                if started is not None and time.monotonic() - started >= self._timeout:
                    self._broken = True
                    raise errors.CardTimeoutError(
                        f"the card did not answer within {self._timeout:g} s"
                    ) from None

    def _exclusive_here(self, operation: Callable[[], T]) -> T:
        try:
            self.begin_transaction()
        except errors.CardServiceError as exc:
            if not handle_is_dead(exc):
                raise
            # a kept connection whose card was pulled, reset or swapped, or whose pcscd
            # restarted: nothing was sent yet, so connect afresh to what the reader holds now
            logger.debug("dead PC/SC handle on %r (%s); reconnecting", self._reader, exc.code)
            self._reconnect()
            self._stale = False
            self.begin_transaction()
        try:
            return operation()
        finally:
            with contextlib.suppress(errors.CardServiceError):
                self.end_transaction()

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        hresult, response = self._guarded(
            scard.SCardTransmit, self._hcard, self._pci, list(apdu), what="transmit"
        )
        if hresult:
            self._check(hresult, "transmit")
        if len(response) < 2:
            self._stale = True
            # vpcd (and some CCID readers) report a card lost mid-command as an empty answer
            raise errors.CardRemovedError("the card was lost during the command (no status word)")
        raw = bytearray(response)  # from pyscard's list of ints: 2.5x as fast as bytes() here
        data, sw = bytes(raw[:-2]), (raw[-2] << 8) | raw[-1]
        if logger.isEnabledFor(TRAFFIC):
            logger.log(TRAFFIC, "%s > %s", self._reader, redact_command(apdu))
            logger.log(TRAFFIC, "%s < %s", self._reader, redact_response(apdu, data, sw))
        return data, sw

    def begin_transaction(self) -> None:
        hresult = self._guarded(scard.SCardBeginTransaction, self._hcard, what="begin transaction")
        self._check(hresult, "begin transaction")
        self._in_transaction = True

    def end_transaction(self) -> None:
        if not self._in_transaction or self._broken:
            return
        self._in_transaction = False
        hresult = self._guarded(
            scard.SCardEndTransaction, self._hcard, scard.SCARD_LEAVE_CARD, what="end transaction"
        )
        if code_of(hresult) in codes.DEAD_HANDLE:
            self._stale = True
        if code_of(hresult) not in (0, codes.W_REMOVED_CARD, codes.W_RESET_CARD,
                                    codes.E_NOT_TRANSACTED):
            self._check(hresult, "end transaction")

    def eject(self) -> None:
        self.close(disposition=scard.SCARD_EJECT_CARD)

    def close(self, disposition: int = scard.SCARD_LEAVE_CARD) -> None:
        if not self._broken:
            with contextlib.suppress(errors.CardServiceError):
                self.end_transaction()
                scard.SCardDisconnect(self._hcard, disposition)
            self._context.close()
        # a broken connection's worker may still be blocked inside pcscd: do not wait for it
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class PcscDriver:
    """Entry point the engine uses: list readers and connect to them."""

    def __init__(self, *, timeout: float = 5.0, watchdog: bool = True,
                 selection: ReaderSelection = EVERY_READER) -> None:
        self.timeout = timeout
        self.watchdog = watchdog
        #: the readers this driver lists and connects to (CARDSERVICE_READERS)
        self.selection = selection
        self._context = Context()

    def readers(self) -> list[ReaderInfo]:
        return reader_infos(self._context, self.selection)

    def connect(self, reader: str, *, watchdog: bool | None = None) -> PcscConnection:
        """A connection to ``reader``; ``watchdog`` (default: the driver's) as in
        :class:`PcscConnection`. A reader outside the selection is READER_NOT_FOUND."""
        self.selection.check(reader)
        return PcscConnection(reader, timeout=self.timeout,
                              watchdog=self.watchdog if watchdog is None else watchdog)

    def card_token(self, reader: str) -> int | None:
        """See :func:`card_token`: changes whenever a card is inserted or removed."""
        return card_token(self._context, reader)

    def close(self) -> None:
        self._context.close()
