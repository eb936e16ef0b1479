"""``python -m bench --compare OLD.json``: each figure and target of this run against an earlier
run's ``--json`` output, with the change and a flag where it got worse beyond noise."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .report import Section

logger = logging.getLogger(__name__)

#: A change smaller than this (relative) is noise on a shared 2-core machine.
DEFAULT_NOISE = 0.10
#: Units where a larger value is better; for every other unit a smaller one is.
HIGHER_IS_BETTER = frozenset({"/s", "/h", "/shift"})


@dataclass(frozen=True)
class Change:
    key: str
    old: float
    new: float
    unit: str
    #: +1 higher is better, -1 lower is better, 0 neither (never a regression)
    direction: int
    #: what a change is measured against (0: the old value)
    scale: float = 0.0

    @property
    def relative(self) -> float:
        base = self.scale or abs(self.old)
        return (self.new - self.old) / base if base else 0.0

    def regressed(self, noise: float) -> bool:
        return -self.direction * self.relative > noise


def _direction(better: str, unit: str) -> int:
    if better in _DIRECTIONS:
        return _DIRECTIONS[better]
    return 1 if unit in HIGHER_IS_BETTER else -1


_DIRECTIONS = {"higher": 1, "lower": -1, "none": 0}


def _values(doc: dict) -> dict[str, tuple[float, str, int, float]]:
    """(value, unit, direction, scale) by key; a run written before ``better`` and ``scale``
    existed reads with their defaults."""
    out = {}
    for section in doc["sections"]:
        for f in section["figures"]:
            out[f"{f['group']} / {f['name']}"] = (
                f["value"], f["unit"], _direction(f.get("better", ""), f["unit"]),
                f.get("scale", 0.0))
        for v in section["verdicts"]:
            out[f"target / {v['target']}"] = (v["value"], v["unit"],
                                               1 if v["op"] == ">=" else -1, v.get("scale", 0.0))
    return out


def changes(old: dict, new: dict) -> tuple[list[Change], list[str], list[str]]:
    """(changes of figures in both runs, keys only in the old run, keys only in the new one)."""
    a, b = _values(old), _values(new)
    both = [Change(k, a[k][0], b[k][0], b[k][1], b[k][2], b[k][3]) for k in b if k in a]
    return both, sorted(set(a) - set(b)), sorted(set(b) - set(a))


def render(old: dict, new: dict, noise: float = DEFAULT_NOISE) -> tuple[str, int]:
    """The comparison as text, and the number of regressions beyond ``noise``."""
    both, gone, added = changes(old, new)
    lines = [f"{'figure':<70} {'old':>10} {'new':>10} {'change':>8}"]
    regressions = 0
    for c in both:
        flag = ""
        if c.regressed(noise):
            flag, regressions = "  REGRESSION", regressions + 1
        lines.append(f"{c.key:<70} {c.old:>10.4g} {c.new:>10.4g} {c.relative:>+8.1%}{flag}")
    lines += [f"{k:<70} only in the old run" for k in gone]
    lines += [f"{k:<70} new in this run" for k in added]
    lines.append(f"{regressions} regression(s) beyond {noise:.0%} noise")
    return "\n".join(lines), regressions


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def as_doc(sections: list[Section]) -> dict:
    from .report import to_json

    return json.loads(to_json(sections))
