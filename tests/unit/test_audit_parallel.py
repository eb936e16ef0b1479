"""The parallel walk of the SQLite audit chain gives the verdict one walk from entry 1 gives:
same ok, entries, first broken id and reason, for an intact log and each kind of tampering,
also exactly at the boundaries between the id ranges. The parallel path is forced on a small
log (real child processes); every case also pins the expected verdict."""

from __future__ import annotations

import itertools
import logging
import shutil
from datetime import UTC, datetime

import pytest

from bench.fixtures import build_audit
from cardservice.store import audit_chain, audit_parallel
from cardservice.store.audit import AuditLog, AuditVerifyResult
from tests.unit.test_audit import tamper

N = 3000
START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HASH_BAD = "hash does not match content"
PREV_BAD = "prev_hash does not match"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "audit.db"
    build_audit(path, N, START)
    return path


def content(entry) -> str:
    return f"UPDATE audit SET detail = '{{\"forged\":1}}' WHERE id = {entry}"


def verify(path) -> AuditVerifyResult:
    log = AuditLog(path)
    try:
        return log.verify()
    finally:
        log.close()


def both(path, k: int, monkeypatch, caplog) -> tuple[AuditVerifyResult, AuditVerifyResult]:
    """(one walk, walk in ``k`` ranges) of the same file; the parallel walk must really run."""
    monkeypatch.setattr(audit_parallel, "parts_for", lambda max_id: 1)
    one = verify(path)
    calls = []
    real = audit_parallel.walk_parallel
    monkeypatch.setattr(audit_parallel, "parts_for", lambda max_id: k)
    monkeypatch.setattr(audit_parallel, "walk_parallel",
                        lambda *args: calls.append(args) or real(*args))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="cardservice.store.audit"):
        parallel = verify(path)
    assert len(calls) == 1 and "parallel audit walk failed" not in caplog.text
    return one, parallel


# (statements, expected (ok, first_broken_id, entries, reason)); {b} is the last id of range 1
CASES = {
    "intact": ([], (True, None, N, None)),
    "content in the last range": ([content(2500)], (False, 2500, 2499, HASH_BAD)),
    "content in two ranges": ([content(700), content(2500)],
                              (False, 700, 699, HASH_BAD)),
    "content of the last entry of range 1": ([content("{b}")],
                                             (False, "{b}", "{b-1}", HASH_BAD)),
    "content of the first entry of range 2": ([content("{b+1}")],
                                              (False, "{b+1}", "{b}", HASH_BAD)),
    "prev_hash": (["UPDATE audit SET prev_hash = zeroblob(32) WHERE id = 2600"],
                  (False, 2600, 2599, PREV_BAD)),
    "prev_hash of the first entry of range 2": (
        ["UPDATE audit SET prev_hash = zeroblob(32) WHERE id = {b+1}"],
        (False, "{b+1}", "{b}", PREV_BAD)),
    "stored hash of the last entry of range 1": (
        ["UPDATE audit SET hash = zeroblob(32) WHERE id = {b}"],
        (False, "{b}", "{b-1}", HASH_BAD)),
    "gap": (["DELETE FROM audit WHERE id = 1200"],
            (False, 1200, 1199, "entry 1200 is missing (next present is 1201)")),
    "gap at the last entry of range 1": (
        ["DELETE FROM audit WHERE id = {b}"],
        (False, "{b}", "{b-1}", "entry {b} is missing (next present is {b+1})")),
    "gap at the first entry of range 2": (
        ["DELETE FROM audit WHERE id = {b+1}"],
        (False, "{b+1}", "{b}", "entry {b+1} is missing (next present is {b+2})")),
    "gap across the boundary": (
        ["DELETE FROM audit WHERE id BETWEEN {b-1} AND {b+2}"],
        (False, "{b-1}", "{b-2}", "entry {b-1} is missing (next present is {b+3})")),
    "tail cut": (["DELETE FROM audit WHERE id >= 2900"],
                 (False, 2900, 2899, f"log ends at entry 2899 but the head record says {N}")),
    "tail cut at the boundary": (
        ["DELETE FROM audit WHERE id > {b}"],
        (False, "{b+1}", "{b}", f"log ends at entry {{b}} but the head record says {N}")),
    "tail cut inside range 1": (
        ["DELETE FROM audit WHERE id >= {b-5}"],
        (False, "{b-5}", "{b-6}", f"log ends at entry {{b-6}} but the head record says {N}")),
    "entries after the head": (
        ["UPDATE audit_head SET last_id = 2000, last_hash = (SELECT hash FROM audit WHERE id = 2000)"],
        (False, 2001, N, "entries after the head record")),
    "head hash differs": (["UPDATE audit_head SET last_hash = zeroblob(32)"],
                          (False, N, N, "last hash differs from the head record")),
    "head record missing": (["DELETE FROM audit_head"], (False, N + 1, N, "head record missing")),
    "forged entry after the end": (
        [(f"INSERT INTO audit SELECT {N + 1}, ts, kind, operation, card_serial, reader, actor, "
          "intent_id, outcome, sequence, error_code, detail, prev_hash, hash, site_id "
          f"FROM audit WHERE id = {N}")],
        (False, N + 1, N, PREV_BAD)),
    "id below 1": (["UPDATE audit SET id = -3 WHERE id = 3"], (False, 1, 0, "unexpected id -3")),
}


def fill(value, b: int):
    """``value`` with {b}, {b-1}, {b+1}, ... replaced for range 1 ending at id ``b``."""
    if not isinstance(value, str):
        return value
    for delta in range(-6, 4):
        value = value.replace(f"{{b{delta:+d}}}" if delta else "{b}", str(b + delta))
    return int(value) if value.isdigit() else value


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_parallel_walk_gives_the_verdict_of_one_walk(pristine, tmp_path, monkeypatch, caplog,
                                                     case, k):  # fmt: skip
    b = N // k  # ranges: 1..N/k, N/k+1..2N/k, ...
    assert audit_parallel.split(N, k)[0] == (1, b)
    statements, expected = CASES[case]
    path = tmp_path / "audit.db"
    shutil.copy(pristine, path)
    if statements:
        tamper(path, *(fill(sql, b) for sql in statements))
    one, parallel = both(path, k, monkeypatch, caplog)
    assert parallel == one
    assert (one.ok, one.first_broken_id, one.entries, one.reason) == tuple(
        fill(v, b) for v in expected)


def test_split_covers_every_id_once_and_the_last_range_is_open():
    for max_id, k in ((10, 3), (200_001, 4), (7, 2)):
        ranges = audit_parallel.split(max_id, k)
        assert ranges[0][0] == 1 and ranges[-1][1] is None and len(ranges) == k
        for (_, last), (first, _) in itertools.pairwise(ranges):
            assert first == last + 1


def test_small_log_or_one_cpu_walks_in_one_pass(monkeypatch):
    assert audit_parallel.parts_for(audit_parallel.PARALLEL_MIN) == 1
    monkeypatch.setattr(audit_parallel.os, "sched_getaffinity", lambda pid: {0})
    assert audit_parallel.parts_for(10 * audit_parallel.PARALLEL_MIN) == 1
    monkeypatch.setattr(audit_parallel.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert audit_parallel.parts_for(10 * audit_parallel.PARALLEL_MIN) == audit_parallel.MAX_PARTS


def test_verdict_line_round_trips():
    for verdict in ((True, 5, None, None, bytes(32)),
                    (False, 9, 10, "entry 10 is missing (next present is 12)", b"\x01" * 32)):
        assert audit_chain.decode(audit_chain.encode(verdict)) == verdict


def test_a_child_that_fails_falls_back_to_one_walk(pristine, tmp_path, monkeypatch, caplog):
    path = tmp_path / "audit.db"
    shutil.copy(pristine, path)
    tamper(path, content(2500))
    monkeypatch.setattr(audit_parallel, "parts_for", lambda max_id: 2)
    monkeypatch.setattr(audit_parallel.sys, "executable", shutil.which("false"))
    with caplog.at_level(logging.WARNING, logger="cardservice.store.audit"):
        result = verify(path)
    assert "parallel audit walk failed" in caplog.text
    assert (result.ok, result.first_broken_id, result.reason) == (False, 2500, HASH_BAD)
