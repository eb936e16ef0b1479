"""Live events: a bus that fans events out to WebSocket subscribers, and the monitor thread that
watches readers and cards (through the backend's own PC/SC status-change loop), survives pcscd
restarts and reports what changed.

Event types: reader_added, reader_removed, card_inserted, card_removed, pcsc_unavailable,
pcsc_available (from the monitor); write_started, write_finished (from the write routes).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cardservice import errors
from cardservice.transport.readers import ReaderBackend, ReaderInfo, reader_id

logger = logging.getLogger(__name__)

QUEUE_SIZE = 256


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue. A subscriber that does not keep up loses events; the next
    thing it receives after the gap is an ``events_dropped`` notice with the count lost."""

    loop: asyncio.AbstractEventLoop
    owner: str | None = None
    size: int = QUEUE_SIZE
    queue: asyncio.Queue = field(init=False)
    dropped: int = 0

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.size + 1)  # one slot kept for the notice

    def offer(self, event: dict[str, Any]) -> None:
        """Runs on the subscriber's loop."""
        if self.queue.qsize() >= self.size:
            self.dropped += 1
            return
        self.flush_notice(event["ts"])
        self.queue.put_nowait(event)

    def flush_notice(self, ts: str) -> None:
        """Queue the ``events_dropped`` notice of a gap that ended (there is room for it)."""
        if self.dropped and not self.queue.full():
            self.queue.put_nowait({"type": "events_dropped", "count": self.dropped, "ts": ts})
            self.dropped = 0


class EventBus:
    """Thread-safe publish; each subscriber reads an asyncio queue on its own loop. Subscribers
    are capped in all and per owner (the client token).

    Every event carries ``seq``, counting from 1 in this bus (``stream`` names the bus, new at
    each daemon start): a client that sees a gap in ``seq``, or a ``hello`` whose ``seq`` is past
    the last event it got, knows it missed events."""

    def __init__(self, clock: Callable[[], datetime], *, max_subscribers: int = 64,
                 max_per_owner: int = 8, queue_size: int = QUEUE_SIZE) -> None:
        self._clock = clock
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self.stream = secrets.token_hex(8)
        self.seq = 0
        self.max_subscribers = max_subscribers
        self.max_per_owner = max_per_owner
        self.queue_size = queue_size

    def subscribe(self, owner: str | None = None) -> Subscription:
        """A new subscription; TOO_MANY_SUBSCRIBERS over either cap."""
        sub = Subscription(asyncio.get_running_loop(), owner, self.queue_size)
        with self._lock:
            if len(self._subs) >= self.max_subscribers:
                raise errors.TooManySubscribersError(
                    f"{len(self._subs)} event subscribers already (cap {self.max_subscribers})")
            mine = sum(1 for s in self._subs if owner is not None and s.owner == owner)
            if mine >= self.max_per_owner:
                raise errors.TooManySubscribersError(
                    f"this token has {mine} event subscribers already (cap {self.max_per_owner})")
            self._subs.add(sub)
        return sub

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, type_: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self.seq += 1
            event = {"type": type_, **fields, "ts": self._clock().isoformat(), "seq": self.seq}
            subs = list(self._subs)
        logger.debug("event %s", event)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, event)
            except RuntimeError:  # the subscriber's loop is closed
                self.unsubscribe(sub)
        return event


def reader_fields(info: ReaderInfo) -> dict[str, Any]:
    return {"reader_id": reader_id(info.name), "reader": info.name}


def diff_events(before: dict[str, ReaderInfo], after: dict[str, ReaderInfo]) -> list[tuple[str, dict]]:
    """The events that turn reader snapshot ``before`` into ``after``, in a natural order."""
    out: list[tuple[str, dict]] = []
    for name, info in after.items():
        old = before.get(name)
        if old is None:
            out.append(("reader_added", reader_fields(info)))
        if (old is None or not old.card_present) and info.card_present:
            out.append(("card_inserted", {**reader_fields(info), "atr_hex": _hex(info.atr)}))
        elif old is not None and old.card_present and info.card_present and old.atr != info.atr:
            out.append(("card_removed", reader_fields(info)))
            out.append(("card_inserted", {**reader_fields(info), "atr_hex": _hex(info.atr)}))
        elif old is not None and old.card_present and not info.card_present:
            out.append(("card_removed", reader_fields(info)))
    for name, old in before.items():
        if name not in after:
            if old.card_present:
                out.append(("card_removed", reader_fields(old)))
            out.append(("reader_removed", reader_fields(old)))
    return out


def _hex(atr: bytes | None) -> str | None:
    return atr.hex() if atr else None


class Monitor:
    """The thread that owns the reader status loop. ``on_card`` runs for each card_inserted
    (the daemon reconciles pending audit intents there)."""

    def __init__(self, backend: ReaderBackend, bus: EventBus, *, wait: float = 1.0,
                 retry: float = 1.0, on_card: Callable[[ReaderInfo], None] | None = None) -> None:
        self.backend = backend
        self.bus = bus
        self.wait = wait
        self.retry = retry
        self.on_card = on_card
        self.available: bool | None = None
        self.snapshot: dict[str, ReaderInfo] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reader-monitor", daemon=True)

    def start(self, ready_timeout: float = 5.0) -> None:
        self._thread.start()
        self._ready.wait(ready_timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.backend.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
                self._ready.set()
                self.backend.wait_for_change(self.wait)
            except errors.PcscUnavailableError as exc:
                self._unavailable(exc)
                self._ready.set()
                self._stop.wait(self.retry)
            except errors.CardServiceError as exc:
                logger.warning("reader monitor: %s (%s); retrying", exc.message, exc.code)
                self._stop.wait(self.retry)
            except Exception:
                logger.exception("reader monitor error; retrying")
                self._stop.wait(self.retry)

    def poll(self) -> None:
        """Take one snapshot of the readers and publish what changed since the last one."""
        infos = {i.name: i for i in self.backend.readers()}
        if self.available is not True:
            if self.available is False:
                logger.info("PC/SC is available again")
                self.bus.publish("pcsc_available")
            self.available = True
        before, self.snapshot = self.snapshot, infos
        for type_, fields in diff_events(before, infos):
            self.bus.publish(type_, **fields)
            if type_ == "card_inserted" and self.on_card is not None:
                self.on_card(infos[fields["reader"]])

    def _unavailable(self, exc: errors.CardServiceError) -> None:
        if self.available is not False:
            logger.warning("PC/SC unavailable: %s (%s)", exc.message, exc.code)
            self.bus.publish("pcsc_unavailable", code=exc.code, message=exc.message)
        self.available = False
