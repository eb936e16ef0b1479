"""``python -m bench [--quick] [--json] [--strict] [--compare OLD.json] [--cache DIR] [--seed N]
[--only SECTION]``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import compare
from .report import all_passed, render, to_json
from .runner import SECTIONS, Plan, run

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the under-a-minute run")
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead of a table")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--cache", type=Path, default=Path(".bench-cache"),
                        help="folder for the 1,000,000-row fixture databases (built once)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare", type=Path, metavar="OLD.json",
                        help="print each figure's change against an earlier --json run")
    parser.add_argument("--noise", type=float, default=compare.DEFAULT_NOISE,
                        help="relative change treated as noise by --compare (default 0.10)")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help="run only this section (repeatable): " + ", ".join(SECTIONS))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request
    started = time.monotonic()
    only = frozenset(args.only or SECTIONS)
    sections = run(Plan.for_mode(args.quick), args.cache, datetime.now(UTC), args.seed, only)
    print(to_json(sections) if args.json else render(sections))
    regressions = 0
    if args.compare:
        text, regressions = compare.render(compare.load(args.compare), compare.as_doc(sections),
                                           args.noise)
        print(text, file=sys.stderr if args.json else sys.stdout)
    print(f"run took {time.monotonic() - started:.1f} s", file=sys.stderr)
    failed = args.strict and (not all_passed(sections) or regressions)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
