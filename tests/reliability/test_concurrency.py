"""Many clients reading and writing across two readers at once (in-process app, simulated
readers that record which operation sent each APDU): per-reader serialisation holds (one
operation's APDUs are never interleaved with another's on a card), busy writes get 409 at once,
no request hangs, and the cards, the registry and the audit log agree afterwards."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time
from collections import defaultdict

import pytest

from cardservice.engine.verify import Status
from tests.api.conftest import (
    ALICE,
    BOB,
    READER_A,
    READER_B,
    SERIAL_A,
    SERIAL_B,
    SERIALS,
    issue_body,
)
from tests.api.simbackend import SimulatedBackend, make_card

CLIENTS = 12
ROUNDS = 6
BOUND_S = 3.0  # operation_timeout (2 s) + margin: no request may take longer
WRITE_RETRIES = 40


class RecordingBackend(SimulatedBackend):
    """Tags every APDU with the id of the connection (= one card operation) that sent it."""

    def __init__(self) -> None:
        super().__init__()
        self.log: dict[str, list[int]] = defaultdict(list)
        self._ids = itertools.count()
        self._log_lock = threading.Lock()

    def connect(self, name: str):
        conn = super().connect(name)
        op, inner = next(self._ids), conn.send_and_receive

        def send(apdu: bytes) -> tuple[bytes, int]:
            with self._log_lock:
                self.log[name].append(op)
            time.sleep(0.0005)  # give other threads every chance to interleave
            return inner(apdu)

        conn.send_and_receive = send
        return conn


@pytest.fixture
def backend() -> RecordingBackend:
    sim = RecordingBackend()
    sim.add_reader(READER_A, make_card(SERIAL_A, seed=1))
    sim.add_reader(READER_B, make_card(SERIAL_B, seed=2))
    yield sim
    sim.release()


def interleavings(ops: list[int]) -> list[int]:
    """Operation ids that appear again after another operation ran on the same card."""
    finished, bad, previous = set(), [], None
    for op in ops:
        if op != previous:
            if op in finished:
                bad.append(op)
            if previous is not None:
                finished.add(previous)
            previous = op
    return bad


def test_interleavings_detector():
    assert interleavings([1, 1, 2, 2, 3]) == []
    assert interleavings([1, 2, 1]) == [1]


def _write_retrying(daemon, reader: str, residence: str, busy: list[int]):
    """A re-sign as a well-behaved client does it: READER_BUSY is retriable, so retry."""
    for _attempt in range(WRITE_RETRIES):
        r = daemon.client.post(daemon.url(reader, "resign"), headers=daemon.auth(),
                               json={"current_residence": residence,
                                     "card_serial": SERIALS[reader]})
        if r.status_code != 409:
            return r
        assert r.json()["error"] == {**r.json()["error"], "code": "READER_BUSY", "retriable": True}
        busy.append(1)
        time.sleep(0.005)
    return r


def _client_run(daemon, index: int, busy: list[int]) -> list[tuple]:
    out = []
    for n in range(ROUNDS):
        reader = (READER_A, READER_B)[(index + n) % 2]
        write = (index + n) % 3 == 0
        started = time.monotonic()
        if write:
            r = _write_retrying(daemon, reader, f"示范县{index}路{n}号", busy)
        else:
            r = daemon.client.get(daemon.url(reader), headers=daemon.auth("reader"))
        code = r.json()["error"]["code"] if r.status_code != 200 else None
        out.append((reader, "write" if write else "read", r.status_code, code,
                    time.monotonic() - started))
    return out


def test_many_clients_across_readers(daemon, capsys):
    assert daemon.issue(READER_A, issue_body(ALICE)).status_code == 200
    assert daemon.issue(READER_B, issue_body(BOB)).status_code == 200
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        busy: list[int] = []
        runs = list(pool.map(lambda i: _client_run(daemon, i, busy), range(CLIENTS),
                             timeout=120))
    results = [r for run in runs for r in run]
    for reader, kind, status, code, elapsed in results:
        assert elapsed < BOUND_S * (WRITE_RETRIES if kind == "write" else 1), (reader, elapsed)
        assert status in (200, 409), (reader, kind, status, code)
        if status == 409:
            assert code == "READER_BUSY"
    for reader in (READER_A, READER_B):
        assert interleavings(daemon.backend.log[reader]) == [], f"APDUs interleaved on {reader}"
    assert busy, "no write ever met a busy reader: the test did not contend"
    _assert_consistent(daemon, results)
    with capsys.disabled():
        counts = defaultdict(int)
        for _reader, kind, status, _code, _e in results:
            counts[f"{kind} {status}"] += 1
        print(f"\nconcurrency: {len(results)} requests by {CLIENTS} clients, "
              f"{dict(sorted(counts.items()))}, {len(busy)} busy answers (409, retried), slowest {max(r[4] for r in results):.2f} s, "
              f"0 interleavings")


def _assert_consistent(daemon, results) -> None:
    """Each card holds sequence 1 + its successful re-signs; registry and audit agree."""
    engine = daemon.runtime.engine
    for reader, serial in ((READER_A, SERIAL_A), (READER_B, SERIAL_B)):
        writes = sum(1 for r in results if r[0] == reader and r[1] == "write" and r[2] == 200)
        card = daemon.client.get(daemon.url(reader), headers=daemon.auth("reader")).json()
        assert writes > 0, f"no write succeeded on {reader}"
        assert card["verification"]["status"] == Status.VALID.value
        assert card["residence"]["sequence"] == 1 + writes
        assert engine.registry.get(serial).last_sequence == 1 + writes
    assert engine.audit.pending() == []
    assert engine.audit.verify().ok
