"""Card-data fuzzing: random and mutated file contents served by a simulated card and read
through the engine must give a verification report with a failed check, never an exception and
never the verifier's catch-all ("internal_error", which would hide a bug)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card_layout.files import CAPACITY, Fid
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Check, Result, Status
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import Clock, identity, make_card, temporary

SERIAL = "0102030405060708"
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def keys(demo_home):
    return load_keys(demo_home)


def _engine(keys) -> Engine:
    return Engine(keys, Registry(":memory:"), AuditLog(":memory:"), clock=Clock())


@pytest.fixture(scope="module")
def issued_files(keys) -> dict[Fid, bytes]:
    """The file contents of a validly issued and once re-signed card (both slots in use)."""
    engine, card = _engine(keys), make_card(SERIAL)
    engine.issue(InProcessConnection(card), identity(), temporary())
    engine.resign(InProcessConnection(card), PermitRequest(current_residence="博乐市南城街道3号"))
    assert engine.read(InProcessConnection(card)).report.status == Status.VALID
    return {fid: card.image.files[fid].data for fid in (Fid.ID, Fid.RES_A, Fid.RES_B)}


def _served(contents: dict[Fid, bytes]) -> VirtualCard:
    card = make_card(SERIAL)
    for fid, data in contents.items():
        ef = card.image.files[fid]
        ef.memory[: len(data)] = data
        ef.length = len(data)
    card.image.locked = True
    return card


def _assert_failed_report(keys, contents: dict[Fid, bytes]) -> None:
    view = _engine(keys).read(InProcessConnection(_served(contents)))
    report = view.report
    failed = [c for c in report.checks if c.result is Result.FAILED]
    assert report.status == Status.INVALID, (report.status, report.checks)
    assert failed, report.checks
    assert all(c.reason != "internal_error" for c in report.checks), report.checks


def _file(fid: Fid) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=1, max_size=CAPACITY[fid])


@FUZZ
@given(id_file=_file(Fid.ID), slot_a=st.binary(max_size=512), slot_b=st.binary(max_size=512))
def test_random_contents_give_a_failed_check(keys, id_file, slot_a, slot_b):
    _assert_failed_report(keys, {Fid.ID: id_file, Fid.RES_A: slot_a, Fid.RES_B: slot_b})


def _mutate(data: bytes, rng: random.Random, kind: str) -> bytes:
    buf = bytearray(data)
    pos = rng.randrange(len(buf))
    if kind == "flip":
        buf[pos] ^= 1 << rng.randrange(8)
    elif kind == "byte":
        buf[pos] = (buf[pos] + rng.randrange(1, 256)) % 256
    elif kind == "truncate":
        del buf[pos:]
    elif kind == "delete":
        del buf[pos]
    elif kind == "insert":
        buf.insert(pos, rng.randrange(256))
    elif kind == "swap":
        other = rng.randrange(len(buf))
        buf[pos], buf[other] = buf[other], buf[pos]
    return bytes(buf)


KINDS = ("flip", "byte", "truncate", "delete", "insert")


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS), target=st.sampled_from(
    ["identity", "both_slots"]))
def test_mutated_contents_give_a_failed_check(keys, issued_files, seed, kind, target):
    """A mutation of the identity, or of both record slots, never reads as valid. (Mutating one
    slot only may leave the other, older slot readable: that case is the next test.)"""
    rng = random.Random(seed)
    contents = dict(issued_files)
    fids = [Fid.ID] if target == "identity" else [Fid.RES_A, Fid.RES_B]
    for fid in fids:
        mutated = _mutate(contents[fid], rng, kind)
        if mutated == contents[fid]:  # e.g. a swap of two equal bytes: no mutation to judge
            mutated = _mutate(contents[fid], rng, "flip")
        contents[fid] = mutated
    _assert_failed_report(keys, contents)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS))
def test_mutated_current_slot_never_reads_as_its_record(keys, issued_files, seed, kind):
    """Mutating the current slot (B, sequence 2) leaves either a failed check or the older valid
    record of slot A (the torn-write fallback) - never a record that was not signed."""
    contents = dict(issued_files)
    contents[Fid.RES_B] = _mutate(contents[Fid.RES_B], random.Random(seed), kind)
    report = _engine(keys).read(InProcessConnection(_served(contents))).report
    assert all(c.reason != "internal_error" for c in report.checks), report.checks
    if report.status == Status.VALID:
        assert report.record.sequence == 1 and report.current_slot == Fid.RES_A
    else:
        assert report.status == Status.INVALID
        assert any(c.result is Result.FAILED for c in report.checks)


@pytest.mark.parametrize("erased", [b"\x00", b"\x00" * 512, b"\xff" * 40])
def test_locked_card_with_erased_identity_is_invalid_not_blank(keys, issued_files, erased):
    """Found by the fuzzer: a locked card whose identity memory is erased read as "blank"."""
    contents = {**issued_files, Fid.ID: erased}
    report = _engine(keys).read(InProcessConnection(_served(contents))).report
    assert report.status == Status.INVALID
    assert report.check(Check.FORMAT).reason == "locked_but_empty"
