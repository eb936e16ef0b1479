"""The check of a chip's INTERNAL AUTHENTICATE answer with public material only: the chip's
P-256 public key from the signed identity (docs/card-os.md, "Chip authentication").

A read starts the check as soon as the chip has answered (:func:`check_soon`) and takes its
result when it verifies the card: the ECDSA verification, the largest part of a read's own
work, then overlaps the APDUs that read the records (docs/benchmarks.md)."""

from __future__ import annotations

import functools
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from card_layout.chip import chip_auth_tbs
from card_layout.files import CHIP_SIGNATURE_LEN

logger = logging.getLogger(__name__)

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


#: (chip key, serial, counter, challenge, answer) -> the check started for them
_Key = tuple[bytes, bytes, int, bytes, bytes]
_lock = threading.Lock()
_started: dict[_Key, Future[bool]] = {}
_pool: ThreadPoolExecutor | None = None  # made on first use, and again in a forked child
_reading = 0  # card reads in progress in this process (read_started / read_ended)


def read_started() -> None:
    """A card read began: :func:`check_soon` hands checks to a helper thread only while no
    other read is in progress. Measured: with several readers at work the cores are busy and
    the hand-over costs more than it saves (docs/benchmarks.md)."""
    global _reading
    with _lock:
        _reading += 1


def read_ended() -> None:
    global _reading
    with _lock:
        _reading -= 1


def _after_fork() -> None:
    """A forked child has none of its parent's threads: a lock another thread held, the
    helper pool and the reads in progress are the parent's, not its own."""
    global _lock, _pool, _reading
    _lock, _pool, _reading = threading.Lock(), None, 0
    _started.clear()


os.register_at_fork(after_in_child=_after_fork)


#: checks started and not yet taken (a read whose verification stops before the chip check
#: leaves its own behind; when this many are waiting they are dropped)
STARTED_MAX = 64
#: helper threads (one is busy at a time unless reads overlap as one ends and one begins)
CHECKERS = 2


def check_soon(public_point: bytes, serial: bytes, counter: int, challenge: bytes,
               answer: bytes) -> None:
    """Start :func:`chip_answer_valid` on a helper thread; the call with the same arguments
    then takes its result. A read starts it as soon as the chip has answered, so the ECDSA
    verification (OpenSSL, without the GIL) runs while the read's remaining APDUs travel."""
    global _pool
    if _reading > 1:
        return  # readers at work side by side keep the cores busy: each checks its own
    key = (bytes(public_point), bytes(serial), counter, bytes(challenge), bytes(answer))
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(CHECKERS, "chip-check")
        if len(_started) >= STARTED_MAX:
            _started.clear()
        _started[key] = _pool.submit(_valid, *key)


def chip_answer_valid(public_point: bytes, serial: bytes, counter: int, challenge: bytes,
                      answer: bytes) -> bool:
    """True when ``answer`` (r || s) is the chip key's ECDSA P-256 / SHA-256 signature over
    the chip-auth bytes of ``serial``, ``counter`` and ``challenge``. Never raises. Takes the
    result of the check :func:`check_soon` started for the same arguments, waiting for it if
    need be (measured: making it here instead when its helper had not started yet made reads
    slower, 1.36-1.40x against 1.26-1.27x the raw replay, docs/benchmarks.md)."""
    started = None
    if _started:
        with _lock:
            started = _started.pop((bytes(public_point), bytes(serial), counter,
                                    bytes(challenge), bytes(answer)), None)
    if started is not None:
        return started.result()
    return _valid(public_point, serial, counter, challenge, answer)


def _valid(public_point: bytes, serial: bytes, counter: int, challenge: bytes,
           answer: bytes) -> bool:
    if len(answer) != CHIP_SIGNATURE_LEN:
        return False
    try:
        key = _chip_key(bytes(public_point))
        der = encode_dss_signature(int.from_bytes(answer[:32], "big"),
                                   int.from_bytes(answer[32:], "big"))
        key.verify(der, chip_auth_tbs(serial, counter, challenge), _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _chip_key(public_point: bytes) -> ec.EllipticCurvePublicKey:
    """The chip's public key object (decoding and checking the point costs as much as a third
    of the verification; a card read again reuses it). Raises ValueError for a bad point."""
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_point)
