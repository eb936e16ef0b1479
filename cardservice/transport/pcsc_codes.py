"""PC/SC result codes and what they mean to the service: the typed error each becomes, and
whether it leaves a card handle or the whole context unusable. Pure (no pyscard): the driver,
:mod:`cardservice.transport.pcsc`, consults it after each call."""

from __future__ import annotations

from cardservice import errors

E_NO_SERVICE = 0x8010001D
E_SERVICE_STOPPED = 0x8010001E
F_COMM_ERROR = 0x80100013
E_INVALID_HANDLE = 0x80100003
W_REMOVED_CARD = 0x80100069
W_RESET_CARD = 0x80100068
W_UNPOWERED_CARD = 0x80100067
W_UNRESPONSIVE_CARD = 0x80100066
E_SHARING_VIOLATION = 0x8010000B
E_TIMEOUT = 0x8010000A
E_NO_SMARTCARD = 0x8010000C
E_NO_READERS_AVAILABLE = 0x8010002E
E_READER_UNAVAILABLE = 0x80100017
E_UNKNOWN_READER = 0x80100009
E_NOT_TRANSACTED = 0x80100016
E_CANCELLED = 0x80100002

#: Results after which the PC/SC context is gone (pcscd stopped or restarted): a new one is made.
DEAD_CONTEXT = {E_NO_SERVICE, E_SERVICE_STOPPED, F_COMM_ERROR, E_INVALID_HANDLE}
#: Results after which a card handle is dead (the card was pulled, reset or lost power, the
#: reader went away, pcscd restarted): the connection is dropped and reopened, never reused.
DEAD_HANDLE = DEAD_CONTEXT | {
    E_READER_UNAVAILABLE, W_REMOVED_CARD, W_RESET_CARD, W_UNPOWERED_CARD, E_NO_SMARTCARD,
    E_UNKNOWN_READER, E_NOT_TRANSACTED,
}

ERROR_MAP: dict[int, type[errors.CardServiceError]] = {
    E_NO_SERVICE: errors.PcscUnavailableError,
    E_SERVICE_STOPPED: errors.PcscUnavailableError,
    F_COMM_ERROR: errors.PcscUnavailableError,
    W_REMOVED_CARD: errors.CardRemovedError,
    W_UNPOWERED_CARD: errors.CardRemovedError,
    W_RESET_CARD: errors.CardResetError,
    W_UNRESPONSIVE_CARD: errors.CardTimeoutError,
    E_SHARING_VIOLATION: errors.ReaderBusyError,
    E_TIMEOUT: errors.CardTimeoutError,
    E_NO_SMARTCARD: errors.NoCardError,
    E_NO_READERS_AVAILABLE: errors.NoReaderError,
    E_READER_UNAVAILABLE: errors.CardRemovedError,
    E_UNKNOWN_READER: errors.ReaderNotFoundError,
    E_NOT_TRANSACTED: errors.CardRemovedError,
}


def code_of(hresult: int) -> int:
    """The unsigned 32-bit code (pyscard may hand back a negative int)."""
    return hresult & 0xFFFFFFFF


def error_for(code: int, what: str, text: str = "") -> errors.CardServiceError:
    """The typed error for a failed call ``what`` with result ``code`` (``text``: PC/SC's own
    message, decoration only); unknown codes are TRANSPORT_ERROR."""
    cls = ERROR_MAP.get(code, errors.TransportError)
    return cls(f"{what}: {text or 'PC/SC error'} (0x{code:08X})", pcsc_code=code)


def handle_is_dead(exc: errors.CardServiceError) -> bool:
    """True when ``exc`` came from a PC/SC result that leaves the card handle unusable."""
    return exc.details.get("pcsc_code") in DEAD_HANDLE or isinstance(exc, errors.CardRemovedError)
