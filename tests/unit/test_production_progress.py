"""The production progress figures and the CLI's progress line."""

from __future__ import annotations

from cardservice.cli.produce import progress_line
from cardservice.workflow.production import Progress
from tests.workflow_fixtures import NOW


def test_progress_figures_and_line() -> None:
    p = Progress("run-1", ["A", "B"], total=20, started_at=NOW, done=12, failed=1, elapsed=6.0)
    assert (p.left, p.rate, p.eta) == (7, 2.0, 3.5)
    assert progress_line(p) == ("[####################----------] 12/20 done, 1 failed, "
                                "7 left, 2.00 cards/s, ETA 4 s")
    d = p.as_dict()
    assert (d["left"], d["rate"], d["eta_seconds"], d["state"]) == (7, 2.0, 3.5, "running")


def test_progress_before_the_first_card() -> None:
    p = Progress("run-2", ["A"], total=3, started_at=NOW)
    assert p.eta is None and p.rate == 0.0
    assert progress_line(p).endswith("0/3 done, 0 failed, 3 left, 0.00 cards/s, ETA -")


def test_line_rate_times_each_reader_to_its_own_last_card() -> None:
    p = Progress("run-3", ["A", "B"], total=5, started_at=NOW, done=5, elapsed=10.0,
                 card_times={"A": [2.0, 4.0, 6.0], "B": [5.0, 10.0], "C": []})
    assert p.rate == 0.5  # the whole run: B's last card ends it
    assert p.line_rate == 3 / 6.0 + 2 / 10.0
    assert Progress("run-4", ["A"], total=1, started_at=NOW).line_rate == 0.0
