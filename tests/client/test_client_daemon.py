"""The Python client against the real daemon (uvicorn process, pcscd, a simulated card):
typed results, Idempotency-Key on writes, errors by family, bounded retry of retriable codes
only, the event stream with reconnection, and pairing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import jsonschema
import pytest

from cardservice.client import (
    AsyncClient,
    CardStateError,
    Client,
    InvalidRequest,
    Missed,
    NotFound,
    ReaderError,
    Retry,
)
from simulator.control import control_path, send_control
from tests.conftest import wait_card_state

from .conftest import SERIAL

pytestmark = pytest.mark.pcsc
ROOT = Path(__file__).resolve().parents[2]
EVENTS = jsonschema.Draft202012Validator(
    json.loads((ROOT / "docs" / "events.schema.json").read_text(encoding="utf-8")))
CITIZEN = {"name": "赵六", "gender": "male", "nationality": "01",
           "citizen_number": "110105199001011232", "household_address": "北京市西城区2号"}
FAST = Retry(attempts=3, backoff=0.05)


class Recorder:
    """httpx event hook: the requests the client really sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


def _client(daemon, recorder: Recorder | None = None, **kw) -> Client:
    hooks = {"request": [recorder]} if recorder else {}
    return Client(daemon.url, token=daemon.secret, event_hooks=hooks, retry=FAST, **kw)


def _rid(client: Client, served) -> str:
    return next(r.id for r in client.readers() if r.name == served.reader)


def test_events_validate_and_reconnect_after_a_restart(daemon, served):
    """First in the module, while the daemon's reader view is fresh."""
    ctl = control_path(served.image)
    with _client(daemon) as cs:
        stream = cs.events()
        watchdog = threading.Timer(60, stream.close)  # a lost event fails, it does not hang
        watchdog.start()
        try:
            it = iter(stream)
            hello = next(it)
            assert hello.type == "hello" and EVENTS.is_valid(hello.model_dump())
            assert {"reader": served.reader, "present": True} in [
                {"reader": r["reader"], "present": r["card_present"]} for r in hello["readers"]]
            seen = []
            try:
                assert send_control(ctl, "remove").startswith("ok")
                seen.append(_next_type(it, "card_removed", served.reader))
            finally:
                assert send_control(ctl, "insert").startswith("ok")
            seen.append(_next_type(it, "card_inserted", served.reader))
            for event in seen:
                assert EVENTS.is_valid(event.model_dump()), event
            daemon.stop()
            daemon.start()
            missed = next(e for e in it if isinstance(e, Missed))  # after events still queued
            assert missed == Missed(count=None, reason="restarted")
            assert next(it).type == "hello"
        finally:
            watchdog.cancel()
            stream.close()
        assert wait_card_state(served.reader, present=True)


def _next_type(it, type_: str, reader: str, limit: int = 200):
    """The next event of this type on this reader (other tests' readers share pcscd)."""
    for event in it:
        if getattr(event, "type", None) == type_ and event.get("reader") == reader:
            return event
        limit -= 1
        if limit == 0:
            break
    raise AssertionError(f"no {type_} on {reader}")


def test_read_issue_resign_renew_typed(daemon, served):
    rec = Recorder()
    with _client(daemon, rec) as cs:
        assert cs.health().status == "ok"
        rid = _rid(cs, served)
        blank = cs.read_card(rid)
        assert blank.state == "blank" and blank.card_serial == SERIAL.lower()
        card = cs.issue(rid, CITIZEN, {"current_residence": "示范县城关镇5号",
                                       "permit_type": "temporary"}, card_serial=blank.card_serial)
        assert card.valid and card.identity.name == "赵六" and card.residence.sequence == 1
        moved = cs.resign(rid, "示范县新区9号", card_serial=card.card_serial)
        assert moved.residence.current_residence == "示范县新区9号"
        assert moved.residence.sequence == 2 and moved.valid
        renewed = cs.renew(rid, card_serial=card.card_serial)
        assert renewed.residence.sequence == 3
        assert cs.registry_card(card.card_serial).last_sequence == 3
        assert [c.card_serial for c in cs.cards_of(CITIZEN["citizen_number"])] == [
            card.card_serial]
    writes = [r for r in rec.requests if r.method == "POST"]
    keys = [r.headers.get("Idempotency-Key") for r in writes]
    assert len(writes) == 3 and all(keys) and len(set(keys)) == 3


def test_a_repeated_key_writes_once(daemon, served):
    with _client(daemon) as cs:
        rid = _rid(cs, served)
        first = cs.resign(rid, "示范县东区1号", card_serial=SERIAL, idempotency_key="move-42")
        again = cs.resign(rid, "示范县东区1号", card_serial=SERIAL, idempotency_key="move-42")
        assert again == first
        assert cs.read_card(rid).residence.sequence == first.residence.sequence


def test_errors_carry_code_family_field(daemon, served):
    rec = Recorder()
    with _client(daemon, rec) as cs:
        with pytest.raises(NotFound) as nf:
            cs.read_card("no-such-reader")
        assert (nf.value.code, nf.value.retriable, nf.value.status) == (
            "READER_NOT_FOUND", False, 404)
        rid = _rid(cs, served)
        with pytest.raises(InvalidRequest) as bad:
            cs.resign(rid, "x", basis=9, card_serial=SERIAL)
        assert bad.value.code == "VALIDATION_ERROR" and bad.value.field == "basis"
        with pytest.raises(CardStateError) as other:
            cs.resign(rid, "x", card_serial="0000000000000001")
        assert other.value.code == "CARD_CHANGED" and other.value.retriable
    # not retriable: one request each; CARD_CHANGED is retriable: three tries, one key
    by_path = [(r.method, r.url.path) for r in rec.requests]
    assert by_path.count(("GET", "/v1/readers/no-such-reader/card")) == 1
    resigns = [r for r in rec.requests if r.url.path.endswith("/resign")]
    assert len(resigns) == 1 + 3
    assert len({r.headers["Idempotency-Key"] for r in resigns[1:]}) == 1


def test_retriable_code_is_retried_a_bounded_number_of_times(daemon, served):
    rec = Recorder()
    ctl = control_path(served.image)
    with _client(daemon, rec) as cs:
        rid = _rid(cs, served)
        assert send_control(ctl, "remove").startswith("ok")
        assert wait_card_state(served.reader, present=False)
        try:
            with pytest.raises(ReaderError) as gone:
                cs.read_card(rid)
        finally:  # back in, and seen by pcscd, before the module's next test reads it
            assert send_control(ctl, "insert").startswith("ok")
            assert wait_card_state(served.reader, present=True)
        assert gone.value.retriable and gone.value.code in ("NO_CARD", "CARD_REMOVED", "TRANSPORT_ERROR")
    assert len([r for r in rec.requests if r.url.path.endswith("/card")]) == 3


def test_pairing_helper(daemon):
    codes: list[str] = []
    result: dict = {}

    def pair() -> None:
        result["client"] = Client.pair(daemon.url, "Counter app", codes.append, poll_every=0.1)

    worker = threading.Thread(target=pair)
    worker.start()
    for _ in range(100):
        if codes:
            break
        worker.join(0.05)
    approve = subprocess.run(
        [sys.executable, "-c", "from cardservice.cli.main import main; main()",
         "--home", str(daemon.home), "pairing", "approve", codes[0], "--role", "reader"],
        check=False, capture_output=True, text=True, timeout=60)
    assert approve.returncode == 0, approve.stderr
    worker.join(30)
    with result["client"] as paired:
        assert paired.token.startswith("cs_")
        assert paired.readers()


def test_async_client(daemon, served):
    async def run() -> None:
        async with AsyncClient(daemon.url, token=daemon.secret, retry=FAST) as cs:
            assert (await cs.health()).status == "ok"
            rid = next(r.id for r in await cs.readers() if r.name == served.reader)
            card = await cs.read_card(rid)
            if card.state == "blank":  # this test alone
                card = await cs.issue(rid, CITIZEN, {"current_residence": "示范县西区3号",
                                                     "permit_type": "temporary"},
                                      card_serial=card.card_serial)
            assert card.card_serial == SERIAL.lower() and card.valid
            renewed = await cs.renew(rid, card_serial=SERIAL)
            assert renewed.residence.sequence == card.residence.sequence + 1
            with pytest.raises(NotFound):
                await cs.read_card("nope")
            stream = cs.events()
            async for event in stream:
                assert event.type == "hello" and EVENTS.is_valid(event.model_dump())
                break
            await stream.aclose()

    asyncio.run(run())
