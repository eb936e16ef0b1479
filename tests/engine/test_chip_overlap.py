"""A read starts the chip's ECDSA check on a helper thread as soon as the chip has answered
(cardservice/engine/reading.py, cardservice/pki/chip.py), so it runs while the record slots
are read; the verification takes that result. The verdicts are the same as a check made in
place, a wrong answer still fails, and with another read in progress (several readers at work)
each read checks its own answer. A card played in this process leaves no wait to fill: there
the read checks the answer itself."""

from __future__ import annotations

import multiprocessing
import threading
import types

import pytest

from card_layout.files import Ins
from cardservice import errors
from cardservice.engine.operations import Engine
from cardservice.engine.verify import Check, Result, Status
from cardservice.pki import chip
from cardservice.transport.readers import _Lease
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import identity, make_card, temporary


@pytest.fixture(autouse=True)
def nothing_started() -> None:
    """No check left behind by an earlier test (a pulled card leaves its own)."""
    chip._started.clear()


class _WaitingConnection(InProcessConnection):
    """An in-process card standing for one behind a reader (PcscConnection waits for its card)."""

    waits_for_card = True


@pytest.fixture
def waiting(card) -> _WaitingConnection:
    return _WaitingConnection(card)


@pytest.fixture
def checks(monkeypatch) -> list[str]:
    """The name of the thread that made each chip check."""
    made: list[str] = []
    real = chip._valid

    def valid(*args) -> bool:
        made.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(chip, "_valid", valid)
    return made


def _sent(card) -> list[int]:
    sent: list[int] = []
    real = card.process

    def process(apdu: bytes) -> bytes:
        sent.append(apdu[1])
        return real(apdu)

    card.process = process
    return sent


def test_the_check_starts_once_the_chip_answered_and_runs_on_a_helper(
        engine: Engine, waiting, card, checks: list[str], monkeypatch) -> None:
    engine.issue(waiting, identity(), temporary())
    checks.clear()
    sent = _sent(card)
    started_after: list[int] = []
    real_check_soon = chip.check_soon

    def check_soon(*args) -> None:
        started_after.append(len(sent))
        real_check_soon(*args)

    monkeypatch.setattr(chip, "check_soon", check_soon)
    view = engine.read(waiting)
    assert view.report.status is Status.VALID
    assert view.report.check(Check.CHIP_AUTHENTIC).result is Result.SUCCEEDED
    assert sent == [Ins.SELECT, Ins.READ_BINARY, Ins.INTERNAL_AUTHENTICATE, Ins.READ_BINARY,
                    Ins.READ_BINARY]
    assert started_after == [3]  # started after the chip's answer, before the two slots
    assert len(checks) == 1 and checks[0].startswith("chip-check")
    assert not chip._started  # taken by the verification


def test_the_daemons_lease_waits_for_its_card_as_its_connection_does() -> None:
    assert _Lease(types.SimpleNamespace(waits_for_card=True)).waits_for_card
    assert not _Lease(InProcessConnection(make_card())).waits_for_card


def test_a_card_pulled_after_its_answer_leaves_nothing_behind(
        engine: Engine, waiting, card) -> None:
    engine.issue(waiting, identity(), temporary())
    real = card.process

    def pulled_after_the_answer(apdu: bytes) -> bytes:
        answer = real(apdu)
        if apdu[1] == Ins.INTERNAL_AUTHENTICATE:
            card.present = False
        return answer

    card.process = pulled_after_the_answer
    with pytest.raises(errors.CardServiceError):
        engine.read(waiting)
    assert chip._reading == 0
    card.process = real
    card.insert()
    assert engine.read(waiting).report.status is Status.VALID


def test_no_helper_to_be_had_leaves_the_check_to_the_read(
        engine: Engine, waiting, checks: list[str], monkeypatch) -> None:
    engine.issue(waiting, identity(), temporary())
    checks.clear()

    def refused(*args) -> None:
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(chip, "check_soon", refused)
    assert engine.read(waiting).report.status is Status.VALID
    assert checks == [threading.current_thread().name]


def test_a_wrong_answer_fails_the_same_way(engine: Engine, waiting, card,
                                           checks: list[str]) -> None:
    engine.issue(waiting, identity(), temporary())
    real = card.process

    def forged(apdu: bytes) -> bytes:  # another key's signature: one bit of it flipped
        answer = real(apdu)
        if apdu[1] == Ins.INTERNAL_AUTHENTICATE:
            return bytes([answer[0] ^ 1]) + answer[1:]
        return answer

    card.process = forged
    checks.clear()
    report = engine.read(waiting).report
    assert report.status is Status.INVALID
    assert report.check(Check.CHIP_AUTHENTIC).reason == "bad_signature"
    assert len(checks) == 1 and checks[0].startswith("chip-check")


def test_with_another_read_in_progress_each_read_checks_its_own(
        engine: Engine, waiting, checks: list[str]) -> None:
    engine.issue(waiting, identity(), temporary())
    checks.clear()
    chip.read_started()  # another reader's read, in progress
    try:
        assert engine.read(waiting).report.status is Status.VALID
    finally:
        chip.read_ended()
    assert checks == [threading.current_thread().name]
    assert chip._reading == 0


def test_a_card_in_this_process_is_checked_by_the_read_itself(
        engine: Engine, conn, checks: list[str]) -> None:
    engine.issue(conn, identity(), temporary())
    checks.clear()
    assert engine.read(conn).report.status is Status.VALID
    assert checks == [threading.current_thread().name]


def _check_in_child(args: tuple, out) -> None:
    chip.check_soon(*args)
    out.put((chip.chip_answer_valid(*args), chip._reading))


def test_a_forked_process_makes_its_own_helpers(engine: Engine, conn) -> None:
    """A pool made before a fork has no threads in the child: the child makes its own, and
    its check does not wait forever."""
    engine.issue(conn, identity(), temporary())
    report = engine.read(conn).report
    args = (report.identity.chip_public_key, report.serial, 0, bytes(16), bytes(64))
    chip.check_soon(*args)  # the parent's pool exists now
    assert chip.chip_answer_valid(*args) is False  # a made-up answer: False, not an error
    chip.read_started()  # a read in progress in the parent is not the child's
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_check_in_child, args=(args, out), daemon=True)
    try:
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert out.get(timeout=5) == (False, 0)
    finally:
        chip.read_ended()
        if child.is_alive():
            child.kill()


def test_checks_left_behind_are_bounded() -> None:
    for i in range(chip.STARTED_MAX + 5):
        chip.check_soon(b"\x04" + bytes(64), bytes(8), i, bytes(16), bytes(64))
    assert len(chip._started) <= chip.STARTED_MAX
    chip._started.clear()
