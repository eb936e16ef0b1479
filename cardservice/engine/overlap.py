"""A write's host work done while the card works, without moving any of the write's fences.

A re-sign spends most of its time waiting for the card (the simulator's ``fast`` profile, a
T=1 card at 223 kbit/s, models 147 ms for its 11 APDUs). The host work between the APDUs adds
to that time unless it runs while the card works. Two pieces of work have room to move:

* **the intent**: it must be durable before the first *write* APDU (UPDATE BINARY), not before
  the APDUs that write nothing (GET DATA re-reading the serial, GET CHALLENGE and EXTERNAL
  AUTHENTICATE). It is appended on a helper thread while this thread takes the registry
  reservation and sends those APDUs; :meth:`OpenWrite.intent` waits for it right before the
  first write APDU.
* **the verification of the read-back**: the bytes the card should read back are known before
  they are written, so their verification runs on a helper thread during UPDATE BINARY and
  READ BINARY; it is used only when the card read back exactly those bytes.

The fences stay where they were: the reservation is taken (and an expired one released) before
the first APDU of the write, the intent is durable before the first write APDU, the registry is
confirmed after the read-back, and the outcome is appended after the confirmation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from card_layout.files import Fid
from cardservice import errors
from cardservice.card.protocol import CardFiles
from cardservice.engine.journal import Journal
from cardservice.engine.model import Intent

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: helper threads shared by every engine of the process (each write uses at most two at once)
HELPERS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def in_background(fn: Callable[..., T], *args: object) -> Future[T]:
    """``fn(*args)`` on a helper thread."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(HELPERS, thread_name_prefix="engine-helper")
    return _pool.submit(fn, *args)


def done(value: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(value)
    return future


class OpenWrite:
    """A write whose reservation is taken and whose intent is durable (or becoming so)."""

    def __init__(self, journal: Journal, serial: str, intent: Future[Intent]) -> None:
        self._journal = journal
        self._serial = serial
        self._intent = intent
        self._released = False

    @classmethod
    def durable(cls, journal: Journal, intent: Intent) -> OpenWrite:
        """An intent already appended (and its reservation taken) by the caller."""
        return cls(journal, intent.serial, done(intent))

    def intent(self) -> Intent:
        """The durable intent, once it is. If it could not be appended, the reservation is
        released and the error raised: nothing was written, nothing is pending."""
        try:
            return self._intent.result()
        except BaseException:
            if not self._released:
                self._released = True
                with contextlib.suppress(errors.CardServiceError):
                    self._journal.registry.release(self._serial, self._journal.clock())
                logger.warning("card %s: the write's intent was not recorded; reservation "
                               "released, nothing written", self._serial)
            raise


def open_write(journal: Journal, operation: str, files: CardFiles, reader: str | None,
               actor: str | None, detail: dict) -> OpenWrite:
    """Release an expired reservation of this card or citizen, then append the intent on a
    helper thread while this thread takes the reservation. A refusal closes the intent as
    failed (as :meth:`Journal.reserve` does) and is raised."""
    serial = files.serial.hex()
    try:
        journal.expire_stale(serial, detail)
    except errors.CardServiceError as exc:  # recorded as before: intent, failed outcome
        journal.refused(journal.record_intent(operation, serial, reader, actor, detail), exc)
        raise
    pending = in_background(journal.record_intent, operation, serial, reader, actor, detail)
    try:
        journal.take_reservation(serial, detail)
    except errors.CardServiceError as exc:
        intent = _result_or_none(pending)
        if intent is not None:
            journal.refused(intent, exc)
        raise
    except BaseException:
        _result_or_none(pending)  # not left running behind the caller's error
        raise
    return OpenWrite(journal, serial, pending)


def _result_or_none(future: Future[T]) -> T | None:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - the caller raises its own, first error
        logger.warning("a write's intent was not recorded either: %s", exc)
        return None


def replace_slot(files: CardFiles, fid: Fid, content: bytes) -> CardFiles:
    """``files`` with ``content`` in residence slot ``fid`` (A or B)."""
    if fid == Fid.RES_A:
        return dataclasses.replace(files, slot_a=content)
    return dataclasses.replace(files, slot_b=content)
