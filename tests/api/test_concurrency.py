"""One lock per reader, timeouts, and independence of readers: a busy reader answers 409 at
once, a hung card 504 within the bound while health and the other reader keep answering."""

from __future__ import annotations

import threading
import time

from .conftest import READER_A, READER_B, issue_body


def _in_thread(fn):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", fn()))
    thread.start()
    return thread, result


def test_second_write_on_busy_reader_is_409_at_once(daemon):
    daemon.backend.hang(READER_A)
    thread, first = _in_thread(lambda: daemon.issue())
    time.sleep(0.3)  # the first write now holds reader A
    started = time.monotonic()
    second = daemon.issue()
    elapsed = time.monotonic() - started
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "READER_BUSY"
    assert second.json()["error"]["retriable"] is True
    assert elapsed < 0.5
    daemon.backend.release()
    thread.join(5)
    assert first["r"].status_code == 200, first["r"].text


def test_read_waits_briefly_then_busy(daemon):
    daemon.backend.hang(READER_A)
    thread, _ = _in_thread(lambda: daemon.issue())
    time.sleep(0.2)
    started = time.monotonic()
    r = daemon.client.get(daemon.url(), headers=daemon.auth("reader"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "READER_BUSY"
    assert 0.25 <= time.monotonic() - started < 1.5  # read_wait is 0.3 s
    daemon.backend.release()
    thread.join(5)


def test_hung_card_times_out_while_others_answer(daemon):
    daemon.backend.hang(READER_A)
    thread, hung = _in_thread(
        lambda: daemon.client.get(daemon.url(), headers=daemon.auth("reader")))
    time.sleep(0.2)
    health = daemon.client.get("/v1/health")
    other = daemon.issue(READER_B)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert other.status_code == 200, other.text
    thread.join(5)
    r = hung["r"]
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "CARD_TIMEOUT"
    # the reader stays unusable until the hung call returns, and says why
    again = daemon.issue()
    assert again.status_code == 504
    daemon.backend.release()
    time.sleep(0.2)
    assert daemon.client.get(daemon.url(), headers=daemon.auth("reader")).status_code == 200


def test_timeout_is_within_the_bound(daemon):
    daemon.backend.hang(READER_A)
    started = time.monotonic()
    r = daemon.client.get(daemon.url(), headers=daemon.auth("reader"))
    elapsed = time.monotonic() - started
    assert r.status_code == 504
    assert 2.0 <= elapsed < 3.0  # operation_timeout is 2 s
    daemon.backend.release()


def test_pcsc_unavailable_is_503_and_health_degraded(daemon):
    daemon.backend.set_available(False)
    r = daemon.client.get("/v1/readers", headers=daemon.auth("reader"))
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "PCSC_UNAVAILABLE"
    deadline = time.monotonic() + 3
    while daemon.client.get("/v1/health").json()["pcsc_available"] and time.monotonic() < deadline:
        time.sleep(0.05)
    health = daemon.client.get("/v1/health").json()
    assert health["status"] == "degraded" and health["pcsc_available"] is False
    daemon.backend.set_available(True)
    deadline = time.monotonic() + 3
    while not daemon.client.get("/v1/health").json()["pcsc_available"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert daemon.client.get("/v1/readers", headers=daemon.auth("reader")).status_code == 200


def test_no_reader_write_is_404_and_issue_body_untouched(daemon):
    daemon.backend.remove_reader(READER_A)
    r = daemon.client.post(daemon.url(READER_A, "issue"), json=issue_body(),
                           headers=daemon.auth())
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "READER_NOT_FOUND"
