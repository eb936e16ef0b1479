"""A slow event subscriber is told how many events it lost, where the gap was (issue 11,
point 3); subscribers are capped per owner and in all."""

from __future__ import annotations

import asyncio

import pytest

from cardservice import errors
from cardservice.transport.events import EventBus, Subscription
from tests.clock import Clock


def _event(n: int) -> dict:
    return {"type": "card_inserted", "n": n, "ts": f"t{n}"}


def _drain(sub: Subscription) -> list[dict]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def test_dropped_events_are_announced_where_the_gap_was():
    async def run() -> list[dict]:
        sub = Subscription(asyncio.get_running_loop(), size=4)
        for n in range(7):
            sub.offer(_event(n))  # 0-3 queued, 4-6 dropped
        first = _drain(sub)
        sub.offer(_event(7))
        return first + _drain(sub)

    got = asyncio.run(run())
    assert [e.get("n") for e in got[:4]] == [0, 1, 2, 3]
    assert got[4] == {"type": "events_dropped", "count": 3, "ts": "t7"}
    assert got[5]["n"] == 7


def test_subscribers_are_capped_per_owner_and_in_all():
    async def run() -> None:
        bus = EventBus(Clock(), max_subscribers=3, max_per_owner=2)
        a1, _a2 = bus.subscribe("a"), bus.subscribe("a")
        with pytest.raises(errors.TooManySubscribersError):
            bus.subscribe("a")
        bus.subscribe("b")
        with pytest.raises(errors.TooManySubscribersError):
            bus.subscribe("c")
        bus.unsubscribe(a1)
        bus.subscribe("c")

    asyncio.run(run())
