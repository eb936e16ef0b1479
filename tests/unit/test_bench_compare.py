"""``python -m bench --compare``: changes per figure and regressions beyond noise; and the card
timing floor computed from an in-process trace (no timing measured here)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from bench import cardtiming, compare
from bench.__main__ import main
from bench.cards import make_bench
from bench.report import Figure, Section, Verdict, to_json
from simulator.timing import ISO_9600

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _doc(read_ms: float, rate: float, ratio: float) -> dict:
    section = Section("s", (Figure("HTTP read", "p50", read_ms, "ms"),
                            Figure("parallel", "reads/s", rate, "/s")),
                      (Verdict("4 / 1", ratio, ">=", 3.8, "x"),
                       Verdict("read / floor", 1.0, "<=", 1.05, "x")))
    return json.loads(to_json([section]))


def test_no_change_is_no_regression():
    text, regressions = compare.render(_doc(10, 100, 3.9), _doc(10, 100, 3.9))
    assert regressions == 0
    assert "0 regression(s) beyond 10% noise" in text


def test_slower_latency_and_lower_rate_are_regressions_faster_is_not():
    text, regressions = compare.render(_doc(10, 100, 3.9), _doc(12, 80, 3.9))
    assert regressions == 2
    lines = {line.split("  ")[0].strip(): line for line in text.splitlines()}
    assert "REGRESSION" in lines["HTTP read / p50"]
    assert "+20.0%" in lines["HTTP read / p50"]
    assert "REGRESSION" in lines["parallel / reads/s"]
    _, better = compare.render(_doc(10, 100, 3.9), _doc(5, 200, 3.95))
    assert better == 0


def test_change_within_noise_is_not_flagged():
    _, regressions = compare.render(_doc(10, 100, 3.9), _doc(10.5, 96, 3.8))
    assert regressions == 0


def test_target_direction_follows_its_comparison():
    # a ">=" target that drops beyond noise is a regression
    _, regressions = compare.render(_doc(10, 100, 3.9), _doc(10, 100, 3.0))
    assert regressions == 1


def _one(figure: Figure) -> dict:
    return json.loads(to_json([Section("s", (figure,))]))


def test_a_figure_that_is_better_higher_is_judged_so_whatever_its_unit():
    old = _one(Figure("scaling", "4 readers / 1 reader", 1.7, "x", better="higher"))
    up = _one(Figure("scaling", "4 readers / 1 reader", 1.9, "x", better="higher"))
    assert compare.render(old, up)[1] == 0
    assert compare.render(up, old)[1] == 1


def test_a_fact_of_the_machine_is_never_a_regression():
    two = _one(Figure("scaling", "CPU cores available", 2, "", better="none"))
    four = _one(Figure("scaling", "CPU cores available", 4, "", better="none"))
    assert compare.render(two, four)[1] == 0 and compare.render(four, two)[1] == 0


def test_a_difference_near_zero_is_measured_against_its_scale():
    def run(beyond: float) -> dict:
        return json.loads(to_json([Section("daemon", (
            Figure("HTTP read", "beyond floor", beyond, "ms", scale=1.1),),
            (Verdict("beyond floor", beyond, "<=", 0.3, "ms", scale=1.1),))]))
    text, regressions = compare.render(run(-0.097), run(-0.054))  # +0.043 ms of 1.1 ms
    assert regressions == 0 and "+3.9%" in text
    assert compare.render(run(-0.097), run(0.2))[1] == 2  # +0.297 ms: 27% of the floor


def test_a_run_written_before_direction_and_scale_still_compares():
    old = _one(Figure("scaling", "2 readers / 1 reader", 1.7, "x"))
    for figure in old["sections"][0]["figures"]:
        del figure["better"], figure["scale"]
    new = _one(Figure("scaling", "2 readers / 1 reader", 1.9, "x", better="higher"))
    text, regressions = compare.render(old, new)
    assert regressions == 0 and "+11.8%" in text


def test_figures_only_in_one_run_are_listed():
    old = _doc(10, 100, 3.9)
    new = json.loads(json.dumps(old))
    new["sections"][0]["figures"].append({"group": "g", "name": "new one", "value": 1,
                                          "unit": "ms", "note": ""})
    old["sections"][0]["figures"].append({"group": "g", "name": "old one", "value": 1,
                                          "unit": "ms", "note": ""})
    text, _ = compare.render(old, new)
    assert "g / old one" in text and "only in the old run" in text
    assert "g / new one" in text and "new in this run" in text


def test_compare_flag_is_parsed(tmp_path, monkeypatch, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(_doc(10, 100, 3.9)))
    section = Section("s", (Figure("HTTP read", "p50", 30, "ms"),))
    monkeypatch.setattr("bench.__main__.run", lambda *a, **k: [section])
    assert main(["--compare", str(old), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "HTTP read / p50" in out and "REGRESSION" in out


def test_floor_is_the_modelled_time_of_the_traced_apdus(tmp_path):
    bench = make_bench(tmp_path, NOW)
    engine = bench.engine()
    read, resign, n_read, n_resign = cardtiming.floors(bench, engine, 7, ISO_9600,
                                                       random.Random(1))
    assert n_read >= 1 and n_resign > n_read
    # at 9600 bit/s every character costs 11 etu = 1.146 ms: a read moves hundreds of bytes
    per_char = 11 / 9600
    assert read > n_read * 7 * per_char
    assert resign > read
