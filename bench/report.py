"""Figures and targets, and their rendering as a table or JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    """One measured value, e.g. ("read+verify", "p50 via pcscd", 1.23, "ms")."""

    group: str
    name: str
    value: float
    unit: str
    note: str = ""
    #: which way is better for ``--compare``: "higher", "lower", "none" (a fact of the machine,
    #: never a regression); "" decides by the unit (rates higher, everything else lower)
    better: str = ""
    #: for a difference that can sit near zero: ``--compare`` measures a change against this
    #: (e.g. the HTTP floor the difference is taken from) instead of the old value
    scale: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """A target and whether the measured value meets it (``value <op> limit``)."""

    target: str
    value: float
    op: str
    limit: float
    unit: str
    #: why a verdict stands as it does on this machine (e.g. a target that needs more cores)
    note: str = ""
    #: as :attr:`Figure.scale`
    scale: float = 0.0

    @property
    def passed(self) -> bool:
        ops = {"<=": self.value <= self.limit, "<": self.value < self.limit,
               ">=": self.value >= self.limit}
        if self.op not in ops:
            raise ValueError(f"unknown comparison {self.op!r}")
        return ops[self.op]


@dataclass(frozen=True)
class Section:
    """What one benchmark produced; ``error`` when it could not run (e.g. no free reader)."""

    name: str
    figures: tuple[Figure, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    error: str | None = None


def _num(value: float) -> str:
    return f"{value:.0f}" if value == int(value) and abs(value) >= 1 else f"{value:.3g}"


def render(sections: list[Section]) -> str:
    gw = max([18] + [len(f.group) for s in sections for f in s.figures])
    lines = [f"{'group':<{gw}} {'figure':<44} {'value':>12}  unit"]
    for section in sections:
        if section.error:
            lines.append(f"{section.name:<{gw}} NOT RUN: {section.error}")
        for f in section.figures:
            note = f"  ({f.note})" if f.note else ""
            lines.append(f"{f.group:<{gw}} {f.name:<44} {_num(f.value):>12}  {f.unit}{note}")
    lines.append("")
    lines.append("targets")
    for v in (v for s in sections for v in s.verdicts):
        mark = "PASS" if v.passed else "FAIL"
        note = f"  ({v.note})" if v.note else ""
        lines.append(f"  {mark}  {v.target:<52} {_num(v.value)} {v.op} {_num(v.limit)} {v.unit}"
                     f"{note}")
    for s in sections:
        if s.error:
            lines.append(f"  FAIL  {s.name:<52} not run: {s.error}")
    return "\n".join(lines)


def to_json(sections: list[Section]) -> str:
    out = []
    for s in sections:
        verdicts = [{**asdict(v), "passed": v.passed} for v in s.verdicts]
        out.append({"name": s.name, "error": s.error,
                    "figures": [asdict(f) for f in s.figures], "verdicts": verdicts})
    return json.dumps({"sections": out, "all_passed": all_passed(sections)}, indent=1,
                      ensure_ascii=False)


def all_passed(sections: list[Section]) -> bool:
    return all(s.error is None and all(v.passed for v in s.verdicts) for s in sections)
