"""Attacks on the real daemon process (uvicorn, `cardservice serve`) over raw sockets and
WebSockets (issue 11, points 2, 3, 6 and 11): oversized and unauthenticated bodies, half-sent
requests, connection floods, WebSocket subscriber floods, a subscriber that stops reading, tokens in
URLs and request logs, log injection, a duplicate Host and an absolute-form request target naming
another host."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from cardservice.store.tokens import TokenStore

from .daemon import DaemonProcess, make_home, wait_until

LIMITS = {"CARDSERVICE_HEADER_TIMEOUT": "1", "CARDSERVICE_BODY_TIMEOUT": "1",
          "CARDSERVICE_MAX_CONNECTIONS": "12", "CARDSERVICE_MAX_SUBSCRIBERS": "4",
          "CARDSERVICE_MAX_SUBSCRIBERS_PER_TOKEN": "2"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[DaemonProcess]:
    root = tmp_path_factory.mktemp("limits")
    home = root / "home"
    proc = DaemonProcess(home, make_home(home), root / "daemon.log", env=LIMITS).start()
    try:
        yield proc
    finally:
        proc.stop()


def _raw(daemon: DaemonProcess, data: bytes, *, read: bool = True, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout) as sock:
        sock.sendall(data)
        if not read:
            return b""
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                out += chunk
                if b"\r\n\r\n" in out and out.endswith(b"}"):
                    break
        return out


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (None if it stayed open)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_huge_body_is_refused_before_it_is_read(daemon):
    rss = psutil.Process(daemon.process.pid).memory_info().rss
    body = b"{" + b" " * (50 * 1024 * 1024) + b"}"
    with daemon.client(timeout=30) as client:
        r = client.post("/v1/cards/0102030405060708/revoke", content=body,
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    grown = psutil.Process(daemon.process.pid).memory_info().rss - rss
    assert grown < 20 * 1024 * 1024, f"the daemon grew by {grown / 2**20:.0f} MiB"


def test_chunked_body_over_the_cap_is_refused(daemon):
    def chunks():
        for _ in range(40):
            yield b" " * 4096

    with daemon.client() as client:
        r = client.post("/v1/cards/0102030405060708/revoke", content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_unauthenticated_body_is_not_read(daemon):
    head = (f"POST /v1/cards/0102030405060708/revoke HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}"
            "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode()
    started = time.monotonic()
    answer = _raw(daemon, head)  # the body never comes: the answer must not wait for it
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"UNAUTHENTICATED" in answer
    assert time.monotonic() - started < 1.0


def test_half_sent_head_is_cut_off(daemon):
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        closed = _closed_within(sock, 5)
    assert closed is not None and closed < 3, "a half-sent request head was never timed out"


def test_idle_connection_is_cut_off(daemon):
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        assert _closed_within(sock, 5) is not None


def test_half_sent_body_is_cut_off(daemon):
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall((f"POST /v1/cards/0102030405060708/revoke HTTP/1.1\r\nHost: 127.0.0.1:"
                      f"{daemon.port}\r\nAuthorization: Bearer {daemon.secret}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"re")
                     .encode())
        closed = _closed_within(sock, 5)
    assert closed is not None and closed < 3, "a half-sent body was never timed out"


def test_connection_flood_is_capped_and_the_daemon_recovers(daemon):
    socks = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(40)]
    try:
        time.sleep(0.3)
        fds = psutil.Process(daemon.process.pid).num_fds()
        closed = 0
        for sock in socks:
            sock.settimeout(0.05)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed += 1
        assert closed >= 40 - 12, f"only {closed} of 40 connections over the cap of 12 closed"
        assert fds < 200
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: daemon.health()["status"] in ("ok", "degraded"), 10, "health to answer")


def _ws(daemon: DaemonProcess, secret: str, **kw):
    url = daemon.url.replace("http://", "ws://") + "/v1/events"
    return ws_connect(url, open_timeout=5, **kw)


def test_websocket_token_as_subprotocol_keeps_it_out_of_the_url(daemon):
    with _ws(daemon, daemon.secret,
             subprotocols=["cardservice.v1", f"bearer.{daemon.secret}"]) as ws:
        assert ws.subprotocol == "cardservice.v1"
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"


def test_websocket_subscribers_are_capped_per_token_and_in_all(daemon):
    store = TokenStore(daemon.home / "tokens.db")
    from datetime import UTC, datetime

    others = [store.create(f"ws-{n}", "reader", datetime.now(UTC))[0] for n in range(3)]
    headers = {"Authorization": f"Bearer {daemon.secret}"}
    with contextlib.ExitStack() as stack:
        for _ in range(2):
            ws = stack.enter_context(_ws(daemon, daemon.secret, additional_headers=headers))
            ws.recv(timeout=5)
        with pytest.raises(InvalidStatus) as third:
            _ws(daemon, daemon.secret, additional_headers=headers)
        assert third.value.response.status_code == 429
        assert b"TOO_MANY_SUBSCRIBERS" in third.value.response.body
        for secret in others[:2]:
            stack.enter_context(_ws(daemon, secret,
                                    additional_headers={"Authorization": f"Bearer {secret}"}))
        with pytest.raises(InvalidStatus) as fifth:
            _ws(daemon, others[2], additional_headers={"Authorization": f"Bearer {others[2]}"})
        assert fifth.value.response.status_code == 429
    wait_until(lambda: _subscribes(daemon, others[2]), 10, "slots to free up after closing")


def _subscribes(daemon: DaemonProcess, secret: str) -> bool:
    try:
        with _ws(daemon, secret, additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
            return json.loads(ws.recv(timeout=5))["type"] == "hello"
    except InvalidStatus:
        return False


def test_token_in_query_is_redacted_from_every_log_line(daemon):
    url = daemon.url.replace("http://", "ws://") + f"/v1/events?token={daemon.secret}"
    with ws_connect(url, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    httpx.get(f"{daemon.url}/v1/readers?token={daemon.secret}&x=1", timeout=5)
    time.sleep(0.3)
    text = daemon.log.read_text()
    assert "/v1/events?token=[redacted]" in text or "/v1/readers?token=[redacted]" in text
    assert daemon.secret not in text


def test_control_characters_in_a_path_are_escaped_in_the_log(daemon):
    _raw(daemon, (f"GET /v1/x%0d%0aFORGED%20line%1b[31m%00 HTTP/1.1\r\nHost: 127.0.0.1:"
                  f"{daemon.port}\r\n\r\n").encode())
    time.sleep(0.3)
    lines = daemon.log.read_text().splitlines()
    assert not any(line.startswith("FORGED") for line in lines)
    assert any("/v1/x\\r\\nFORGED line\\x1b[31m\\x00" in line for line in lines)
    assert not any("\x1b" in line or "\x00" in line for line in lines)


def test_duplicate_host_is_refused(daemon):
    answer = _raw(daemon, (f"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
                           "Host: evil.example\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 403") and b"HOST_NOT_ALLOWED" in answer, answer[:300]


def test_absolute_target_naming_another_host_is_refused(daemon):
    answer = _raw(daemon, (f"GET http://evil.example/v1/health HTTP/1.1\r\nHost: 127.0.0.1:"
                           f"{daemon.port}\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 403") and b"HOST_NOT_ALLOWED" in answer, answer[:300]
    same = _raw(daemon, (f"GET http://127.0.0.1:{daemon.port}/v1/health HTTP/1.1\r\nHost: "
                         f"127.0.0.1:{daemon.port}\r\n\r\n").encode())
    assert same.startswith(b"HTTP/1.1 200"), same[:300]


def test_docs_page_may_post_from_its_own_origin(daemon):
    with daemon.client() as client:
        r = client.post("/v1/cards/0102030405060708/revoke", json={"reason": "lost"},
                        headers={"Origin": daemon.url})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", r.text
        r = client.post("/v1/cards/0102030405060708/revoke", json={"reason": "lost"},
                        headers={"Origin": "http://127.0.0.1:1"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"



def _stalled_subscriber(daemon: DaemonProcess) -> socket.socket:
    """A WebSocket subscriber on a raw socket with a small receive buffer that reads its
    handshake answer and then nothing (a client library would keep reading in the background)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", daemon.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nAuthorization: Bearer {daemon.secret}\r\n\r\n")
                 .encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


class _Frames:
    """The server's messages (unmasked, unfragmented text frames) read off a raw socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, b""
        sock.settimeout(10)

    def until(self, done: Callable[[dict], bool]) -> list[dict]:
        out: list[dict] = []
        while not out or not done(out[-1]):
            if not self._parse(out):
                chunk = self.sock.recv(65536)
                assert chunk, "the daemon closed the stalled subscriber"
                self.buf += chunk
        return out

    def _parse(self, out: list[dict]) -> bool:
        """Move one whole frame from the buffer (a text frame into ``out``); False if none."""
        if len(self.buf) < 2:
            return False
        size, start = self.buf[1] & 0x7F, 2
        if size >= 126:
            start = 4 if size == 126 else 10
            size = int.from_bytes(self.buf[2:start], "big")
        if len(self.buf) < start + size:
            return False
        if self.buf[0] & 0x0F == 1:  # text (pings and the like are skipped)
            out.append(json.loads(self.buf[start:start + size]))
        self.buf = self.buf[start + size:]
        return True


def _failing_writes(daemon: DaemonProcess, count: int, rid: str) -> None:
    """``count`` re-signs on a reader that does not exist: each publishes write_started and
    write_finished (READER_NOT_FOUND) without touching PC/SC's card I/O."""
    def post(n: int) -> None:
        with daemon.client() as client:
            for _ in range(n):
                r = client.post(f"/v1/readers/{rid}/card/resign",
                                json={"current_residence": "示范县新区8号",
                                      "card_serial": "52503100000000C1"})
                assert r.json()["error"]["code"] == "READER_NOT_FOUND", r.text
    threads = [threading.Thread(target=post, args=(count // 4,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_stalled_subscriber_is_told_events_were_dropped(daemon):
    """A subscriber that stops reading: its backlog stays bounded (its queue plus fixed socket
    buffers) and, once it reads again, an ``events_dropped`` notice stands exactly where the gap
    is; the daemon keeps answering meanwhile."""
    sock = _stalled_subscriber(daemon)
    try:
        frames = _Frames(sock)
        assert frames.until(lambda m: True)[0]["type"] == "hello"
        # 2 events per write; the backlog holds about 810 events (measured): 1200 overflow it
        _failing_writes(daemon, 600, "no-such-reader-00000000")
        assert daemon.health()["status"] in ("ok", "degraded")
        got = frames.until(lambda m: m["type"] == "events_dropped")
        _failing_writes(daemon, 4, "no-such-reader-ffffffff")  # events after the gap
        got += frames.until(lambda m: m.get("reader_id") == "no-such-reader-ffffffff")
    finally:
        sock.close()
    notices = [i for i, m in enumerate(got) if m["type"] == "events_dropped"]
    for i in notices:
        notice, before, after = got[i], got[i - 1], got[i + 1]
        assert set(notice) == {"type", "count", "ts"} and notice["count"] > 0, notice
        assert after["seq"] - before["seq"] - 1 == notice["count"], (before, notice, after)
    seqs = [m["seq"] for m in got if m["type"] != "events_dropped"]
    assert seqs == sorted(seqs)
    assert len(got) < 1000, f"{len(got)} messages: the stalled subscriber's backlog was not bounded"
