"""The bench's own arithmetic: APDU/byte counting at the transport, percentiles, the layout
minimum, verdicts and the report. Not a timed test."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from bench.cards import citizen_number, issued_image, make_bench
from bench.counting import CountingConnection, Traffic
from bench.layout import SELECT_FRAMING, read_minimum, resign_minimum, stored_payload
from bench.report import Figure, Section, Verdict, all_passed, render, to_json
from bench.runner import guarded
from bench.stats import percentile, slope, time_calls, time_interleaved
from bench.stores import build_audit, citizen, serial
from card_layout.citizen import validate_citizen_number
from card_layout.files import Fid
from cardservice.store.audit import AuditLog
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([5.0], 50, 5.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
    (list(range(1, 101)), 99, 99.01),
    ([3.0, 1.0, 2.0], 50, 2.0),
])
def test_percentile(values, q, expected) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_time_calls_uses_the_given_timer() -> None:
    ticks = iter(range(100))
    calls = []
    lat = time_calls(lambda: calls.append(1), 5, warmup=2, timer=lambda: next(ticks) * 0.001)
    assert len(calls) == 7
    assert lat.n == 5  # every call spans exactly one tick of 1 ms
    assert (lat.p50_ms, lat.p99_ms) == (pytest.approx(1.0), pytest.approx(1.0))


def test_slope() -> None:
    assert slope([0, 1, 2, 3], [10, 12, 14, 16]) == pytest.approx(2.0)
    assert slope([0, 1, 2], [5, 5, 5]) == 0.0
    assert slope([1], [3]) == 0.0


def test_read_minimum_is_payload_plus_framing() -> None:
    assert stored_payload(300, 200, 0) == 508 + 4 + 16 + 64  # + counter, challenge, signature
    assert SELECT_FRAMING == 4 + 1 + 6 + 1 + 2
    assert read_minimum(300, 200, 0).apdus == 5
    # + INTERNAL AUTHENTICATE framing: header, Lc, Le, SW
    assert read_minimum(300, 200, 0).wire_bytes == 592 + 14 + 8 + 3 * 9


def test_resign_minimum_adds_erase_only_for_a_longer_old_slot() -> None:
    same = resign_minimum(200, 200)
    longer = resign_minimum(200, 201)
    assert (same.apdus, longer.apdus) == (5, 6)
    assert longer.wire_bytes - same.wire_bytes == 6
    # GET DATA 15 + GET CHALLENGE 15 + EXT AUTH 23 + UPDATE 209 + READ back 209
    assert same.wire_bytes == 15 + 15 + 23 + 209 + 209


def test_counting_connection_counts_a_real_read(tmp_path) -> None:
    bench = make_bench(tmp_path, NOW)
    engine = bench.engine()
    rng = random.Random(3)
    image = issued_image(bench, engine, 5, resigned=True, rng=rng)
    card = VirtualCard(image, rng=rng)
    conn = CountingConnection(InProcessConnection(card))
    view = engine.read(conn)
    assert view.report.status.value == "valid"
    traffic = conn.traffic
    assert traffic.apdus == 5 == card.apdu_count
    assert [apdu[1] for apdu in conn.log] == [0xA4, 0xB0, 0x88, 0xB0, 0xB0]
    files = card.image.files
    data = sum(f.length for fid, f in files.items() if fid.name not in ("CARD", "PHOTO"))
    assert traffic.sent == sum(len(a) for a in conn.log)
    assert traffic.received > data + 64 + 5 * 2  # file bytes + FCI + signature + five SWs
    slots = files[Fid.RES_A].length + files[Fid.RES_B].length
    sent = sum(len(a) for a in conn.log[3:])  # the two slots, read after the chip's answer
    assert conn.since(3) == Traffic(2, sent, slots + 2 * 2)
    conn.reset()
    assert conn.traffic == Traffic(0, 0, 0)
    engine.registry.close()
    engine.audit.close()


def test_fixture_citizen_numbers_are_valid_and_distinct() -> None:
    numbers = {citizen_number(i) for i in range(50)} | {citizen(i) for i in (0, 1, 999_999)}
    assert len(numbers) == 53
    for number in numbers:
        validate_citizen_number(number)
    assert serial(255) == "52500000000000ff"


def test_bulk_audit_fixture_verifies(tmp_path) -> None:
    path = tmp_path / "audit.db"
    build_audit(path, 101, NOW)
    log = AuditLog(path)
    try:
        result = log.verify()
        assert (result.ok, result.entries) == (True, 101)
        assert log.head()[0] == 101
        assert [e.kind for e in log.entries(limit=2)] == ["intent", "outcome"]
    finally:
        log.close()


def test_verdicts_and_report() -> None:
    ok = Verdict("a", 4, "<=", 4, "")
    bad = Verdict("b", 1.2, ">=", 3.5, "x")
    assert ok.passed and not bad.passed
    assert Verdict("c", 4.99, "<", 5, "s").passed and not Verdict("c", 5, "<", 5, "s").passed
    with pytest.raises(ValueError):
        _ = Verdict("d", 1, "==", 1, "").passed
    sections = [Section("s", (Figure("g", "n", 1.5, "ms"),), (ok, bad)),
                Section("t", error="no vpcd reader slot was free")]
    table = render(sections)
    assert "PASS  a" in table and "FAIL  b" in table and "not run: no vpcd" in table
    data = json.loads(to_json(sections))
    assert data["all_passed"] is False
    assert data["sections"][0]["verdicts"][1]["passed"] is False
    assert not all_passed(sections) and all_passed([Section("s", verdicts=(ok,))])


def test_a_section_that_cannot_measure_is_reported_not_raised() -> None:
    def no_reader() -> Section:
        raise RuntimeError("pcscd did not answer on its socket")

    section = guarded("latency", no_reader)
    assert section.error == "RuntimeError: pcscd did not answer on its socket"
    assert not all_passed([section])
    assert "not run: RuntimeError" in render([section])


def test_a_verdict_note_is_printed_with_its_target() -> None:
    from bench.report import Section, Verdict, render

    verdict = Verdict("throughput 4 readers / 1 reader (instant)", 1.5, ">=", 3.5, "x",
                      "cannot be met here: 2 CPU cores")
    text = render([Section("scaling", verdicts=(verdict,))])
    assert "FAIL  throughput 4 readers / 1 reader (instant)" in text
    assert "(cannot be met here: 2 CPU cores)" in text


def test_quick_plan_measures_production_and_parallel_readers() -> None:
    from bench.runner import Plan

    quick, full = Plan.for_mode(True), Plan.for_mode(False)
    assert 0 < quick.production_cards < full.production_cards
    assert quick.timing.parallel_reads > 0 and full.timing.parallel_resigns > 0


def test_scaling_interleaves_the_reader_counts(monkeypatch) -> None:
    """1, 2 and 4 readers take turns in short windows; each count's reads and time are summed."""
    from bench import scaling

    windows: list[tuple[int, float]] = []

    def fake_count(engine, readers, seconds):
        windows.append((len(readers), seconds))
        return 10 * len(readers) + len(windows), 0.5

    monkeypatch.setattr(scaling, "_count_reads", fake_count)
    rates = scaling.interleaved(None, ["r0", "r1", "r2", "r3"], [1, 2, 4], 3.0, rounds=3)
    assert windows == [(1, 1.0), (2, 1.0), (4, 1.0)] * 3
    assert rates == {1: (11 + 14 + 17) / 1.5, 2: (22 + 25 + 28) / 1.5, 4: (43 + 46 + 49) / 1.5}


def test_time_interleaved_takes_turns_after_the_warmup() -> None:
    calls: list[str] = []
    ticks = iter(range(1000))
    a, b = time_interleaved((lambda: calls.append("a"), lambda: calls.append("b")), 3, warmup=2,
                            timer=lambda: next(ticks))
    assert calls == ["a", "b"] * 5
    assert a == b == [1, 1, 1]  # one tick per timed call
